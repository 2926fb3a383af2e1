package io.memalloc.internal.os;

/**
 * {@link OsMemory} on Linux and macOS: anonymous private {@code mmap}, {@code munmap}, {@code madvise}, and
 * {@code mprotect} for guard pages.
 *
 * <p>An alignment above the page size is met by mapping {@code byteSize + alignment - pageSize} bytes and unmapping
 * the unaligned head and the tail:
 * <pre>
 *   mmap'd:   |  head  |          byteSize, aligned           |  tail  |
 *             ^p       ^alignUp(p, alignment)
 *   kept:              |--------------------------------------|
 * </pre>
 */
public final class PosixMemory implements OsMemory {
    private final PosixCalls calls;
    private final PosixConstants constants;
    private final long pageSize;

    public PosixMemory(PosixCalls calls, PosixConstants constants) {
        this.calls = calls;
        this.constants = constants;
        long size = calls.sysconf(constants.scPageSize());
        if (size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalStateException(constants.system() + ": sysconf(_SC_PAGESIZE) gave " + size);
        }
        this.pageSize = size;
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public long granularity() {
        return pageSize;
    }

    @Override
    public long map(long byteSize, long alignment) {
        OsChecks.checkMapArguments(byteSize, alignment, pageSize);
        long extra = Math.max(alignment, pageSize) - pageSize;
        long length = byteSize + extra;
        if (length < 0) {
            throw new OutOfMemoryError("mmap of " + byteSize + " bytes aligned to " + alignment + ": too large");
        }
        long p = calls.mmap(0, length, PosixConstants.PROT_READ | PosixConstants.PROT_WRITE,
                PosixConstants.MAP_PRIVATE | constants.mapAnonymous());
        if (p < 0) {
            throw new OutOfMemoryError("mmap of " + byteSize + " bytes aligned to " + alignment + " failed (it asked"
                    + " for " + length + " bytes, the alignment's slack included): " + Errno.describe(-p));
        }
        long aligned = (p + alignment - 1) & -alignment;
        long head = aligned - p;
        long tail = extra - head;
        int result = head > 0 ? calls.munmap(p, head) : 0;
        if (result == 0 && tail > 0) {
            result = calls.munmap(aligned + byteSize, tail);
        }
        if (result != 0) {
            // Give back whatever is left of the mapping (munmap of a range partly unmapped already is fine).
            calls.munmap(p, length);
            throw new OutOfMemoryError("mmap of " + byteSize + " bytes aligned to " + alignment
                    + ": trimming the alignment padding failed: " + Errno.describe(-result));
        }
        return aligned;
    }

    @Override
    public void unmap(long address, long byteSize) {
        int result = calls.munmap(address, byteSize);
        if (result != 0) {
            throw new IllegalStateException("munmap(0x" + Long.toHexString(address) + ", " + byteSize
                    + ") failed: " + Errno.describe(-result));
        }
    }

    @Override
    public void protect(long address, long byteSize) {
        int result = calls.mprotect(address, byteSize, PosixConstants.PROT_NONE);
        if (result != 0) {
            throw new IllegalStateException("mprotect(0x" + Long.toHexString(address) + ", " + byteSize
                    + ", PROT_NONE) failed: " + Errno.describe(-result));
        }
    }

    @Override
    public void purge(long address, long byteSize) {
        int result = calls.madvise(address, byteSize, constants.purgeAdvice());
        if (result != 0) {
            throw new IllegalStateException("madvise(0x" + Long.toHexString(address) + ", " + byteSize + ", "
                    + constants.purgeAdvice() + ") failed: " + Errno.describe(-result));
        }
    }
}
