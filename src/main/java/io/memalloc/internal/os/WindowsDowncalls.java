package io.memalloc.internal.os;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The real {@link WindowsCalls}: kernel32 through {@link Linker} downcalls, {@code GetLastError()} captured by the
 * linker. Loaded only on Windows; elsewhere the fake in the tests stands in for it.
 *
 * <p>{@code SYSTEM_INFO} (48 bytes on 64-bit Windows) is read at the two offsets used:
 * <pre>
 *   offset  0  WORD wProcessorArchitecture, WORD wReserved
 *   offset  4  DWORD dwPageSize                     &lt;- pageSize()
 *   offset  8  LPVOID lpMinimumApplicationAddress
 *   offset 16  LPVOID lpMaximumApplicationAddress
 *   offset 24  DWORD_PTR dwActiveProcessorMask
 *   offset 32  DWORD dwNumberOfProcessors
 *   offset 36  DWORD dwProcessorType
 *   offset 40  DWORD dwAllocationGranularity        &lt;- allocationGranularity()
 *   offset 44  WORD wProcessorLevel, WORD wProcessorRevision
 * </pre>
 */
@SuppressWarnings("restricted") // one of the two classes that link native code; see module-info
final class WindowsDowncalls implements WindowsCalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle LAST_ERROR = CAPTURE.varHandle(PathElement.groupElement("GetLastError"));
    private static final long SYSTEM_INFO_SIZE = 48;

    private final MethodHandle virtualAlloc;
    private final MethodHandle virtualFree;
    private final MethodHandle virtualProtect;
    private final long pageSize;
    private final long allocationGranularity;
    private final ThreadLocal<MemorySegment> lastError =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    WindowsDowncalls() {
        SymbolLookup kernel32 = SymbolLookup.libraryLookup("kernel32", Arena.global());
        Linker.Option capture = Linker.Option.captureCallState("GetLastError");
        virtualAlloc = LINKER.downcallHandle(find(kernel32, "VirtualAlloc"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT), capture);
        virtualFree = LINKER.downcallHandle(find(kernel32, "VirtualFree"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), capture);
        virtualProtect = LINKER.downcallHandle(find(kernel32, "VirtualProtect"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG), capture);
        MethodHandle getSystemInfo = LINKER.downcallHandle(find(kernel32, "GetSystemInfo"),
                FunctionDescriptor.ofVoid(JAVA_LONG));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(SYSTEM_INFO_SIZE, 8);
            getSystemInfo.invokeExact(info.address());
            pageSize = Integer.toUnsignedLong(info.get(JAVA_INT, 4));
            allocationGranularity = Integer.toUnsignedLong(info.get(JAVA_INT, 40));
        } catch (Throwable t) {
            throw new IllegalStateException("GetSystemInfo downcall failed", t);
        }
    }

    private static MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new UnsupportedOperationException("kernel32 has no " + name));
    }

    @Override
    public long virtualAlloc(long address, long size, int allocationType, int protect) {
        MemorySegment state = lastError.get();
        long result;
        try {
            result = (long) virtualAlloc.invokeExact(state, address, size, allocationType, protect);
        } catch (Throwable t) {
            throw new IllegalStateException("VirtualAlloc downcall failed", t);
        }
        return result != 0 ? result : -errorOf(state);
    }

    @Override
    public int virtualFree(long address, long size, int freeType) {
        MemorySegment state = lastError.get();
        int result;
        try {
            result = (int) virtualFree.invokeExact(state, address, size, freeType);
        } catch (Throwable t) {
            throw new IllegalStateException("VirtualFree downcall failed", t);
        }
        return result != 0 ? 0 : -errorOf(state);
    }

    @Override
    public int virtualProtect(long address, long size, int newProtect) {
        MemorySegment state = lastError.get();
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment oldProtect = arena.allocate(JAVA_INT); // VirtualProtect fails without somewhere to write it
            result = (int) virtualProtect.invokeExact(state, address, size, newProtect, oldProtect.address());
        } catch (Throwable t) {
            throw new IllegalStateException("VirtualProtect downcall failed", t);
        }
        return result != 0 ? 0 : -errorOf(state);
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public long allocationGranularity() {
        return allocationGranularity;
    }

    private static int errorOf(MemorySegment state) {
        return Math.max(1, (int) LAST_ERROR.get(state, 0L));
    }
}
