package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The regions of one heap by address: which region, if any, holds a given address, in O(1) and without a lock.
 *
 * <p>Regions are aligned to their size, so {@code address >>> log2(regionSize)} names the only region that can hold
 * the address. The table is an open-addressing hash of those keys, published as an immutable snapshot through a
 * volatile field: lookups (every free) read it without locking; adding or removing a region (a mapping or an
 * unmapping, already a system call) copies it.
 */
final class RegionTable<R> {
    private final int shift;
    private final ToLongFunction<R> baseOf;
    private volatile Snapshot<R> snapshot = new Snapshot<>(new long[4], new Object[4], 0);

    /** A table of regions of {@code regionSize} bytes, each aligned to its size, whose base {@code baseOf} gives. */
    RegionTable(long regionSize, ToLongFunction<R> baseOf) {
        this.shift = Long.numberOfTrailingZeros(regionSize);
        this.baseOf = baseOf;
    }

    /** The region that holds {@code address}, or null. */
    R find(long address) {
        Snapshot<R> s = snapshot;
        long key = address >>> shift;
        int i = hash(key) & (s.regions.length - 1);
        if (s.keys[i] == key || s.regions[i] == null) {
            return s.region(i);
        }
        return probe(s, key, i); // out of line: the first slot is the region most of the time
    }

    private R probe(Snapshot<R> s, long key, int first) {
        int mask = s.regions.length - 1;
        for (int i = (first + 1) & mask; ; i = (i + 1) & mask) {
            if (s.regions[i] == null || s.keys[i] == key) {
                return s.region(i);
            }
        }
    }

    synchronized void add(R region) {
        List<R> all = all();
        all.add(region);
        snapshot = build(all);
    }

    synchronized void remove(R region) {
        List<R> all = all();
        all.remove(region);
        snapshot = build(all);
    }

    /** A copy of the regions in the table. */
    List<R> all() {
        Snapshot<R> s = snapshot;
        List<R> all = new ArrayList<>();
        for (int i = 0; i < s.regions.length; i++) {
            if (s.regions[i] != null) {
                all.add(s.region(i));
            }
        }
        return all;
    }

    int size() {
        return snapshot.count;
    }

    private Snapshot<R> build(List<R> regions) {
        int capacity = Integer.highestOneBit(Math.max(4, regions.size() * 2 + 1)) * 2;
        long[] keys = new long[capacity];
        Object[] slots = new Object[capacity];
        for (R r : regions) {
            long key = baseOf.applyAsLong(r) >>> shift;
            int i = hash(key) & (capacity - 1);
            while (slots[i] != null) {
                i = (i + 1) & (capacity - 1);
            }
            keys[i] = key;
            slots[i] = r;
        }
        return new Snapshot<>(keys, slots, regions.size());
    }

    private static int hash(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40);
    }

    /** A table that is never changed once published. */
    private static final class Snapshot<R> {
        final long[] keys;
        /** Only ever holds regions of type R: an array of a type variable cannot be made. */
        final Object[] regions;
        final int count;

        Snapshot(long[] keys, Object[] regions, int count) {
            this.keys = keys;
            this.regions = regions;
            this.count = count;
        }

        @SuppressWarnings("unchecked") // only ever filled with R
        R region(int i) {
            return (R) regions[i];
        }
    }
}
