package io.memalloc;

import io.memalloc.internal.os.OsMemory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The system's OS memory with faults injected on request, counting what goes to the OS.
 *
 * <p>Every mapping it hands out is real memory (the heap writes headers into it), so a fault that returns a wrong
 * address maps real memory behind it and remembers what to give back when the heap unmaps the address it was
 * given. Each fault is armed for the {@code nth} call of its kind from now (1: the next), and fires {@code times}
 * calls in a row from there ({@link #ALWAYS}: until {@link #clearFaults()}).
 *
 * <p>It holds the heap to the {@link OsMemory} contract: an unmap or purge of anything but a mapping it handed
 * out (and holds) is recorded in {@link #misuses()} and thrown as an {@link AssertionError}.
 */
final class FaultyOsMemory implements OsMemory {
    /** As {@code times}: the fault fires at every call from the {@code nth} on. */
    static final int ALWAYS = Integer.MAX_VALUE;

    /** A mapping handed to the heap, and the real mapping behind it. */
    private record Held(long address, long byteSize, long realAddress, long realSize) {}

    /** How the next map is to go wrong. */
    private enum MapFault { FAIL, MISALIGN, ADDRESS }

    private final OsMemory real = OsMemory.system();
    /** By the address the heap was given. */
    private final Map<Long, Held> held = new HashMap<>();
    private final List<String> misuses = new ArrayList<>();
    private final List<long[]> purged = new ArrayList<>();
    private final Trigger mapTrigger = new Trigger();
    private final Trigger unmapTrigger = new Trigger();
    private final Trigger purgeTrigger = new Trigger();
    private final Trigger protectTrigger = new Trigger();
    private final List<long[]> protectedRanges = new ArrayList<>();
    private MapFault mapFault;
    private long fakeAddress;
    private int maps;
    private int unmaps;
    private int purges;
    private int faults;
    private long lastAddress;

    /** Fires at the {@code nth} call from now, {@code times} times in a row. */
    private static final class Trigger {
        private int skip = -1;
        private int times;

        void arm(int nth, int times) {
            if (nth < 1 || times < 1) {
                throw new IllegalArgumentException("nth " + nth + " and times " + times + " must be positive");
            }
            this.skip = nth - 1;
            this.times = times;
        }

        /** Counts a call; true when it is one to fail. */
        boolean fires() {
            if (skip < 0) {
                return false;
            }
            if (skip > 0) {
                skip--;
                return false;
            }
            if (times != ALWAYS && --times == 0) {
                skip = -1;
            }
            return true;
        }

        void clear() {
            skip = -1;
        }
    }

    /** The {@code nth} map from now throws {@link OutOfMemoryError}, as a refused {@code mmap}. */
    synchronized FaultyOsMemory failMap(int nth) {
        return failMaps(nth, 1);
    }

    synchronized FaultyOsMemory failMaps(int nth, int times) {
        mapTrigger.arm(nth, times);
        mapFault = MapFault.FAIL;
        return this;
    }

    /**
     * The {@code nth} map from now returns an address that is not aligned as asked: a page past an alignment above
     * the page size, half an alignment past a smaller one.
     */
    synchronized FaultyOsMemory misalignMap(int nth) {
        mapTrigger.arm(nth, 1);
        mapFault = MapFault.MISALIGN;
        return this;
    }

    /** The {@code nth} map from now returns {@code address}, rounded down to the alignment asked, whatever it is. */
    synchronized FaultyOsMemory mapAt(int nth, long address) {
        mapTrigger.arm(nth, 1);
        mapFault = MapFault.ADDRESS;
        fakeAddress = address;
        return this;
    }

    /** The {@code nth} unmap from now throws {@link IllegalStateException}, as a refused {@code munmap}. */
    synchronized FaultyOsMemory failUnmap(int nth) {
        return failUnmaps(nth, 1);
    }

    synchronized FaultyOsMemory failUnmaps(int nth, int times) {
        unmapTrigger.arm(nth, times);
        return this;
    }

    /** The {@code nth} purge from now throws {@link IllegalStateException}, as a refused {@code madvise}. */
    synchronized FaultyOsMemory failPurge(int nth) {
        purgeTrigger.arm(nth, 1);
        return this;
    }

    /** The {@code nth} protect from now throws {@link IllegalStateException}, as a refused {@code mprotect}. */
    synchronized FaultyOsMemory failProtect(int nth) {
        protectTrigger.arm(nth, 1);
        return this;
    }

    synchronized void clearFaults() {
        mapTrigger.clear();
        unmapTrigger.clear();
        purgeTrigger.clear();
        protectTrigger.clear();
    }

    /** The ranges made guard pages, as {address, byteSize}, oldest first. */
    synchronized List<long[]> protectedRanges() {
        return List.copyOf(protectedRanges);
    }

    /** Calls of map, failed ones included. */
    synchronized int maps() {
        return maps;
    }

    /** Calls of unmap, failed ones included. */
    synchronized int unmaps() {
        return unmaps;
    }

    /** Calls of purge, failed ones included. */
    synchronized int purges() {
        return purges;
    }

    /** The address the last map returned, right or wrong. */
    synchronized long lastAddress() {
        return lastAddress;
    }

    /** Faults injected so far. */
    synchronized int faults() {
        return faults;
    }

    /** Bytes the heap holds mapped: handed out and not given back, as the heap sees them. */
    synchronized long mappedBytes() {
        long bytes = 0;
        for (Held h : held.values()) {
            bytes += h.byteSize();
        }
        return bytes;
    }

    /** Mappings the heap holds. */
    synchronized int mappingCount() {
        return held.size();
    }

    /** Whether the heap holds a mapping at {@code address}, as it was handed out. */
    synchronized boolean holds(long address) {
        return held.containsKey(address);
    }

    /** The ranges purged successfully, as {address, byteSize}, oldest first. */
    synchronized List<long[]> purged() {
        return List.copyOf(purged);
    }

    /** Calls that broke the contract: unmaps and purges of memory not handed out, or not whole. */
    synchronized List<String> misuses() {
        return List.copyOf(misuses);
    }

    /** Gives back whatever the heap still holds: to clean up after a close that left a mapping owed. */
    synchronized void unmapEverything() {
        for (Held h : held.values()) {
            real.unmap(h.realAddress(), h.realSize());
        }
        held.clear();
    }

    @Override
    public long pageSize() {
        return real.pageSize();
    }

    @Override
    public long granularity() {
        return real.granularity();
    }

    @Override
    public synchronized long map(long byteSize, long alignment) {
        maps++;
        if (!mapTrigger.fires()) {
            return keep(real.map(byteSize, alignment), byteSize, 0, byteSize);
        }
        faults++;
        return switch (mapFault) {
            case FAIL -> throw new OutOfMemoryError("injected: mmap of " + byteSize + " bytes failed: errno 12"
                    + " (ENOMEM)");
            case MISALIGN -> {
                if (alignment == 1) {
                    throw new IllegalStateException("an alignment of 1 cannot be missed");
                }
                long offset = alignment > real.granularity() ? real.granularity() : alignment / 2;
                long realSize = byteSize + real.granularity();
                yield keep(real.map(realSize, alignment), byteSize, offset, realSize);
            }
            case ADDRESS -> {
                long realAddress = real.map(byteSize, alignment);
                long address = fakeAddress & -alignment;
                if (held.containsKey(address)) { // a second fake mapping at the same address: the heap kept the first
                    real.unmap(realAddress, byteSize);
                    throw new IllegalStateException("0x" + Long.toHexString(address) + " is handed out already");
                }
                held.put(address, new Held(address, byteSize, realAddress, byteSize));
                lastAddress = address;
                yield address;
            }
        };
    }

    private long keep(long realAddress, long byteSize, long offset, long realSize) {
        long address = realAddress + offset;
        held.put(address, new Held(address, byteSize, realAddress, realSize));
        lastAddress = address;
        return address;
    }

    @Override
    public synchronized void unmap(long address, long byteSize) {
        unmaps++;
        Held h = held.get(address);
        if (h == null || h.byteSize() != byteSize) {
            throw misuse("unmap(0x" + Long.toHexString(address) + ", " + byteSize + ") of no mapping handed out"
                    + (h == null ? "" : ": it has " + h.byteSize() + " bytes"));
        }
        if (unmapTrigger.fires()) {
            faults++;
            throw new IllegalStateException("injected: munmap(0x" + Long.toHexString(address) + ", " + byteSize
                    + ") failed: errno 22 (EINVAL)");
        }
        real.unmap(h.realAddress(), h.realSize());
        held.remove(address);
    }

    @Override
    public synchronized void protect(long address, long byteSize) {
        boolean inside = false;
        for (Held h : held.values()) {
            inside |= address >= h.address() && byteSize <= h.address() + h.byteSize() - address;
        }
        if (!inside || byteSize <= 0) {
            throw misuse("protect(0x" + Long.toHexString(address) + ", " + byteSize + ") outside every mapping");
        }
        if (protectTrigger.fires()) {
            faults++;
            throw new IllegalStateException("injected: mprotect(0x" + Long.toHexString(address) + ", " + byteSize
                    + ", PROT_NONE) failed: errno 12 (ENOMEM)");
        }
        real.protect(address, byteSize);
        protectedRanges.add(new long[] {address, byteSize});
    }

    @Override
    public synchronized void purge(long address, long byteSize) {
        purges++;
        boolean inside = false;
        for (Held h : held.values()) {
            inside |= address >= h.address() && byteSize <= h.address() + h.byteSize() - address;
        }
        if (!inside || byteSize <= 0) {
            throw misuse("purge(0x" + Long.toHexString(address) + ", " + byteSize + ") outside every mapping");
        }
        if (purgeTrigger.fires()) {
            faults++;
            throw new IllegalStateException("injected: madvise(0x" + Long.toHexString(address) + ", " + byteSize
                    + ") failed: errno 11 (EAGAIN)");
        }
        real.purge(address, byteSize);
        purged.add(new long[] {address, byteSize});
    }

    private AssertionError misuse(String what) {
        misuses.add(what);
        return new AssertionError(what);
    }
}
