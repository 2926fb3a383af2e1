package io.memalloc.internal.os;

import java.util.ArrayList;
import java.util.List;

/**
 * A fake {@link PosixCalls} that records every call with its arguments, hands out fake addresses from a counter
 * (or one chosen address), and fails the next call of a kind with a chosen errno on request. It never touches real
 * memory.
 */
final class RecordingPosixCalls implements PosixCalls {

    /** One recorded call. */
    sealed interface Call permits Mmap, Munmap, Mprotect, Madvise, Sysconf {}

    record Mmap(long address, long length, int prot, int flags) implements Call {}

    record Munmap(long address, long length) implements Call {}

    record Mprotect(long address, long length, int prot) implements Call {}

    record Madvise(long address, long length, int advice) implements Call {}

    record Sysconf(int name) implements Call {}

    /** Where the counter starts: aligned to 64 GiB, far from zero. */
    static final long FIRST_ADDRESS = 0x10_0000_0000L;

    private final List<Call> calls = new ArrayList<>();
    private final long sysconfResult;
    private long nextAddress = FIRST_ADDRESS;
    private long chosenMmapResult;
    private int mmapErrno;
    private int munmapErrno;
    private int madviseErrno;
    private int mprotectErrno;

    /** @param sysconfResult what every {@code sysconf} call returns (the page size, or a bad value) */
    RecordingPosixCalls(long sysconfResult) {
        this.sysconfResult = sysconfResult;
    }

    /** The calls so far, oldest first. */
    List<Call> calls() {
        return List.copyOf(calls);
    }

    /** The calls after the first {@code skip} ones (to leave out the constructor's {@code sysconf}). */
    List<Call> callsAfter(int skip) {
        return List.copyOf(calls.subList(skip, calls.size()));
    }

    /** The next successful {@code mmap} returns {@code address} instead of the counter's next address. */
    RecordingPosixCalls returnNextMmapAt(long address) {
        chosenMmapResult = address;
        return this;
    }

    RecordingPosixCalls failNextMmap(int errno) {
        mmapErrno = errno;
        return this;
    }

    RecordingPosixCalls failNextMunmap(int errno) {
        munmapErrno = errno;
        return this;
    }

    RecordingPosixCalls failNextMprotect(int errno) {
        mprotectErrno = errno;
        return this;
    }

    RecordingPosixCalls failNextMadvise(int errno) {
        madviseErrno = errno;
        return this;
    }

    @Override
    public long mmap(long address, long length, int prot, int flags) {
        calls.add(new Mmap(address, length, prot, flags));
        if (mmapErrno != 0) {
            long result = -mmapErrno;
            mmapErrno = 0;
            return result;
        }
        if (chosenMmapResult != 0) {
            long result = chosenMmapResult;
            chosenMmapResult = 0;
            return result;
        }
        long result = nextAddress;
        // Leave a gap of one page so that consecutive mappings never touch and stay page aligned.
        nextAddress += length + (sysconfResult > 0 ? sysconfResult : 0x1000);
        return result;
    }

    @Override
    public int munmap(long address, long length) {
        calls.add(new Munmap(address, length));
        int result = -munmapErrno;
        munmapErrno = 0;
        return result;
    }

    @Override
    public int mprotect(long address, long length, int prot) {
        calls.add(new Mprotect(address, length, prot));
        int result = -mprotectErrno;
        mprotectErrno = 0;
        return result;
    }

    @Override
    public int madvise(long address, long length, int advice) {
        calls.add(new Madvise(address, length, advice));
        int result = -madviseErrno;
        madviseErrno = 0;
        return result;
    }

    @Override
    public long sysconf(int name) {
        calls.add(new Sysconf(name));
        return sysconfResult;
    }
}
