package io.memalloc.internal.os;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A fake {@link WindowsCalls} that records every call with its arguments. A {@code VirtualAlloc} at address 0
 * gets the next queued address, else the next one from a counter; one at a given address gets that address. It can
 * lose the race for a given address a number of times, and fail the next call of a kind with a chosen error.
 */
final class RecordingWindowsCalls implements WindowsCalls {

    /** One recorded call. */
    sealed interface Call permits VirtualAlloc, VirtualFree, VirtualProtect {}

    record VirtualAlloc(long address, long size, int allocationType, int protect) implements Call {}

    record VirtualFree(long address, long size, int freeType) implements Call {}

    record VirtualProtect(long address, long size, int newProtect) implements Call {}

    static final long KIB = 1024;
    /** Where the counter starts: aligned to 64 GiB. */
    static final long FIRST_ADDRESS = 0x10_0000_0000L;
    /** ERROR_NOT_ENOUGH_MEMORY */
    static final int ERROR_NOT_ENOUGH_MEMORY = 8;
    /** ERROR_INVALID_ADDRESS: what VirtualAlloc at a taken address sets. */
    static final int ERROR_INVALID_ADDRESS = 487;

    private final List<Call> calls = new ArrayList<>();
    private final Deque<Long> queuedAddresses = new ArrayDeque<>();
    private final long pageSize;
    private final long granularity;
    private long nextAddress = FIRST_ADDRESS;
    private int racesToLose;
    private int raceError;
    private int virtualAllocError;
    private int virtualFreeError;
    private int virtualProtectError;

    RecordingWindowsCalls() {
        this(4 * KIB, 64 * KIB);
    }

    RecordingWindowsCalls(long pageSize, long granularity) {
        this.pageSize = pageSize;
        this.granularity = granularity;
    }

    List<Call> calls() {
        return List.copyOf(calls);
    }

    /** The next {@code VirtualAlloc}s at address 0 return these addresses, in order. */
    RecordingWindowsCalls returnNextAllocsAt(long... addresses) {
        for (long a : addresses) {
            queuedAddresses.add(a);
        }
        return this;
    }

    /** The next {@code times} {@code VirtualAlloc}s at a given address fail as if another thread took it. */
    RecordingWindowsCalls loseRaces(int times) {
        return loseRaces(times, ERROR_INVALID_ADDRESS);
    }

    /** The next {@code times} {@code VirtualAlloc}s at a given address fail with {@code error}. */
    RecordingWindowsCalls loseRaces(int times, int error) {
        racesToLose = times;
        raceError = error;
        return this;
    }

    RecordingWindowsCalls failNextVirtualAlloc(int error) {
        virtualAllocError = error;
        return this;
    }

    RecordingWindowsCalls failNextVirtualFree(int error) {
        virtualFreeError = error;
        return this;
    }

    RecordingWindowsCalls failNextVirtualProtect(int error) {
        virtualProtectError = error;
        return this;
    }

    @Override
    public long virtualAlloc(long address, long size, int allocationType, int protect) {
        calls.add(new VirtualAlloc(address, size, allocationType, protect));
        if (virtualAllocError != 0) {
            long result = -virtualAllocError;
            virtualAllocError = 0;
            return result;
        }
        if (address != 0) {
            if (racesToLose > 0 && allocationType != WindowsMemory.MEM_RESET) {
                racesToLose--;
                return -raceError;
            }
            return address;
        }
        Long queued = queuedAddresses.poll();
        if (queued != null) {
            return queued;
        }
        long result = nextAddress;
        nextAddress += size + granularity;
        return result;
    }

    @Override
    public int virtualFree(long address, long size, int freeType) {
        calls.add(new VirtualFree(address, size, freeType));
        int result = -virtualFreeError;
        virtualFreeError = 0;
        return result;
    }

    @Override
    public int virtualProtect(long address, long size, int newProtect) {
        calls.add(new VirtualProtect(address, size, newProtect));
        int result = -virtualProtectError;
        virtualProtectError = 0;
        return result;
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public long allocationGranularity() {
        return granularity;
    }
}
