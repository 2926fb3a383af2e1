package io.memalloc.internal.os;

/**
 * The kernel32 functions {@link WindowsMemory} calls, one method each; a failure returns minus
 * {@code GetLastError()}.
 *
 * <p>{@link WindowsDowncalls} makes the real calls; tests give a fake that records them.
 */
public interface WindowsCalls {

    /** {@code VirtualAlloc(address, size, allocationType, protect)}: the address, or minus the last error. */
    long virtualAlloc(long address, long size, int allocationType, int protect);

    /** {@code VirtualFree(address, size, freeType)}: 0, or minus the last error. */
    int virtualFree(long address, long size, int freeType);

    /** {@code VirtualProtect(address, size, newProtect, &old)}: 0, or minus the last error. */
    int virtualProtect(long address, long size, int newProtect);

    /** {@code SYSTEM_INFO.dwPageSize} from {@code GetSystemInfo}. */
    long pageSize();

    /** {@code SYSTEM_INFO.dwAllocationGranularity} from {@code GetSystemInfo} (64 KiB on every Windows so far). */
    long allocationGranularity();
}
