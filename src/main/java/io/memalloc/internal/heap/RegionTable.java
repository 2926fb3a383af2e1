package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.List;

/**
 * The regions of one heap by address: which region, if any, holds a given address, in O(1) and without a lock.
 *
 * <p>Regions are aligned to their size, so {@code address >>> log2(regionSize)} names the only region that can hold
 * the address. The table is an open-addressing hash of those keys, published as an immutable snapshot through a
 * volatile field: lookups (every free) read it without locking; adding or removing a region (a mapping or an
 * unmapping, already a system call) copies it.
 */
final class RegionTable {
    private final int shift;
    private volatile Snapshot snapshot = new Snapshot(new long[4], new Region[4], 0);

    RegionTable(long regionSize) {
        this.shift = Long.numberOfTrailingZeros(regionSize);
    }

    /** The region that holds {@code address}, or null. */
    Region find(long address) {
        Snapshot s = snapshot;
        long key = address >>> shift;
        int mask = s.regions.length - 1;
        for (int i = hash(key) & mask; ; i = (i + 1) & mask) {
            Region r = s.regions[i];
            if (r == null || s.keys[i] == key) {
                return r;
            }
        }
    }

    synchronized void add(Region region) {
        List<Region> all = all();
        all.add(region);
        snapshot = build(all);
    }

    synchronized void remove(Region region) {
        List<Region> all = all();
        all.remove(region);
        snapshot = build(all);
    }

    /** A copy of the regions in the table. */
    List<Region> all() {
        Snapshot s = snapshot;
        List<Region> all = new ArrayList<>();
        for (Region r : s.regions) {
            if (r != null) {
                all.add(r);
            }
        }
        return all;
    }

    int size() {
        return snapshot.count;
    }

    private Snapshot build(List<Region> regions) {
        int capacity = Integer.highestOneBit(Math.max(4, regions.size() * 2 + 1)) * 2;
        long[] keys = new long[capacity];
        Region[] slots = new Region[capacity];
        for (Region r : regions) {
            long key = r.base >>> shift;
            int i = hash(key) & (capacity - 1);
            while (slots[i] != null) {
                i = (i + 1) & (capacity - 1);
            }
            keys[i] = key;
            slots[i] = r;
        }
        return new Snapshot(keys, slots, regions.size());
    }

    private static int hash(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40);
    }

    /** A table that is never changed once published. */
    private static final class Snapshot {
        final long[] keys;
        final Region[] regions;
        final int count;

        Snapshot(long[] keys, Region[] regions, int count) {
            this.keys = keys;
            this.regions = regions;
            this.count = count;
        }
    }
}
