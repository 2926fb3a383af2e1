package io.memalloc.internal.os;

/**
 * {@link OsMemory} on Windows: {@code VirtualAlloc} and {@code VirtualFree}.
 *
 * <p>Windows reserves address space in 64 KiB granules and can only release a reservation whole, so an alignment
 * above the granularity cannot be met by trimming as on POSIX. Instead: reserve {@code byteSize + alignment - granularity},
 * note the aligned address inside it, release the reservation, and reserve-and-commit exactly at the aligned
 * address. Another thread may take that range in between (VirtualAlloc then fails with
 * {@code ERROR_INVALID_ADDRESS}); then try again (mimalloc does the same on Windows 8,
 * which lacks {@code VirtualAlloc2}).
 * <pre>
 *   probe:    |  reserve byteSize + alignment - granularity, NOACCESS |   then released
 *                    ^alignUp(probe, alignment)
 *   final:           |  MEM_RESERVE | MEM_COMMIT, byteSize  |
 * </pre>
 * Purging uses {@code MEM_RESET}: the pages stay committed and usable, their content unspecified, and leave the
 * working set. {@code MEM_DECOMMIT} would also give back the commit charge, but the pages would then have to be
 * committed again before reuse, and that can fail when the system's commit limit is reached: the heap would hand out
 * memory that faults. Guard pages are {@code VirtualProtect(PAGE_NOACCESS)}.
 */
public final class WindowsMemory implements OsMemory {
    static final int MEM_COMMIT = 0x1000;
    static final int MEM_RESERVE = 0x2000;
    static final int MEM_RELEASE = 0x8000;
    static final int MEM_RESET = 0x80000;
    static final int PAGE_NOACCESS = 0x01;
    static final int PAGE_READWRITE = 0x04;
    /** What VirtualAlloc at a given address says when that range is already taken. */
    static final int ERROR_INVALID_ADDRESS = 487;
    /** Tries at an aligned reservation before giving up; each lost race means another thread just mapped there. */
    static final int ALIGNED_TRIES = 16;

    private final WindowsCalls calls;
    private final long pageSize;
    private final long granularity;

    public WindowsMemory(WindowsCalls calls) {
        this.calls = calls;
        this.pageSize = calls.pageSize();
        this.granularity = calls.allocationGranularity();
        if (Long.bitCount(pageSize) != 1 || Long.bitCount(granularity) != 1 || granularity < pageSize) {
            throw new IllegalStateException("GetSystemInfo gave page size " + pageSize + " and granularity "
                    + granularity);
        }
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public long granularity() {
        return granularity;
    }

    @Override
    public long map(long byteSize, long alignment) {
        OsChecks.checkMapArguments(byteSize, alignment, granularity);
        if (alignment <= granularity) {
            return commit(0, byteSize);
        }
        // Any range of byteSize + alignment - granularity bytes holds an aligned range of byteSize.
        long probeSize = byteSize + alignment - granularity;
        if (probeSize < 0) {
            throw new OutOfMemoryError("VirtualAlloc of " + byteSize + " bytes aligned to " + alignment + ": too large");
        }
        for (int attempt = 0; attempt < ALIGNED_TRIES; attempt++) {
            long probe = calls.virtualAlloc(0, probeSize, MEM_RESERVE, PAGE_NOACCESS);
            if (probe <= 0) {
                throw new OutOfMemoryError("VirtualAlloc reserving " + probeSize + " bytes failed: error " + -probe);
            }
            long aligned = (probe + alignment - 1) & -alignment;
            release(probe);
            long p = calls.virtualAlloc(aligned, byteSize, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
            if (p > 0) {
                return p;
            }
            if (-p != ERROR_INVALID_ADDRESS) {
                throw new OutOfMemoryError("VirtualAlloc of " + byteSize + " bytes at 0x" + Long.toHexString(aligned)
                        + " failed: error " + -p);
            }
        }
        throw new OutOfMemoryError("VirtualAlloc of " + byteSize + " bytes aligned to " + alignment
                + ": the aligned range was taken by another mapping " + ALIGNED_TRIES + " times");
    }

    private long commit(long address, long byteSize) {
        long p = calls.virtualAlloc(address, byteSize, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (p <= 0) {
            throw new OutOfMemoryError("VirtualAlloc of " + byteSize + " bytes failed: error " + -p);
        }
        return p;
    }

    @Override
    public void unmap(long address, long byteSize) {
        release(address);
    }

    private void release(long address) {
        int result = calls.virtualFree(address, 0, MEM_RELEASE);
        if (result != 0) {
            throw new IllegalStateException("VirtualFree(0x" + Long.toHexString(address)
                    + ", 0, MEM_RELEASE) failed: error " + -result);
        }
    }

    @Override
    public void protect(long address, long byteSize) {
        int result = calls.virtualProtect(address, byteSize, PAGE_NOACCESS);
        if (result != 0) {
            throw new IllegalStateException("VirtualProtect(0x" + Long.toHexString(address) + ", " + byteSize
                    + ", PAGE_NOACCESS) failed: error " + -result);
        }
    }

    @Override
    public void purge(long address, long byteSize) {
        long p = calls.virtualAlloc(address, byteSize, MEM_RESET, PAGE_READWRITE);
        if (p <= 0) {
            throw new IllegalStateException("VirtualAlloc(0x" + Long.toHexString(address) + ", " + byteSize
                    + ", MEM_RESET) failed: error " + -p);
        }
    }
}
