package io.memalloc.internal.heap;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link PageRegion}s of one heap: where a thread gets a fresh {@link Page} and where an empty page goes back.
 * Pages change hands rarely (a page serves thousands of blocks), so one lock guards them all; the blocks themselves
 * never take it.
 *
 * <pre>
 *  take:    a region with a free slot ──> a cached empty region ──> a new mapping
 *  release: slot freed; a region left with no page is kept mapped while {@link EmptyRegions} has room, else
 *           unmapped by the caller once the lock is let go
 * </pre>
 */
final class PageRegions {
    /** How the heap maps and unmaps, within its cap and with its events. */
    interface Mapper {
        /** Maps {@code byteSize} bytes aligned to their size for a request of {@code request} bytes. */
        long map(long byteSize, long request);

        /** Gives back a mapping that {@link #map} made and no page ever used. */
        void unmap(long base, long byteSize);
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final long regionSize;
    private final RegionTable<PageRegion> table;
    private final EmptyRegions emptyBudget;
    private final Mapper mapper;
    /** Regions with a free slot and at least one page, most recently given a slot back first. */
    private final ArrayDeque<PageRegion> withRoom = new ArrayDeque<>();
    /** Set by {@link #detachAll}, under the lock: the heap closes, and no region is taken or given back after. */
    private boolean closed;
    /** Regions with no page, kept mapped for reuse; counted in {@link #emptyBudget}. */
    private final ArrayDeque<PageRegion> empty = new ArrayDeque<>();
    /**
     * The counts of the pages given back: {@link Page#allocations} and the rest. Atomics, so that {@link #totals}
     * reads them without the lock: a thread that waits for it may hold a shared heap that others wait for.
     */
    private final AtomicLong releasedAllocations = new AtomicLong();
    private final AtomicLong releasedFrees = new AtomicLong();
    private final AtomicLong releasedBytes = new AtomicLong();

    PageRegions(long regionSize, EmptyRegions emptyBudget, Mapper mapper) {
        this.regionSize = regionSize;
        this.table = new RegionTable<>(regionSize, r -> r.base);
        this.emptyBudget = emptyBudget;
        this.mapper = mapper;
    }

    /**
     * A fresh page of {@code sizeClass} owned by {@code owner}.
     *
     * @param request the bytes the user asked for, for a message should the mapping fail
     * @throws OutOfMemoryError as the heap's map
     * @throws IllegalStateException once the heap has closed
     */
    Page take(int sizeClass, ThreadHeap owner, long request) {
        lock.lock();
        try {
            if (closed) {
                throw Heap.closedException();
            }
            PageRegion region = withRoom.peekFirst();
            if (region == null) {
                region = empty.pollFirst();
                if (region != null) {
                    emptyBudget.leave();
                } else {
                    region = map(request);
                }
                withRoom.addFirst(region);
            }
            Page page = region.carve(sizeClass, owner);
            if (region.freeSlotCount == 0) {
                withRoom.remove(region);
            }
            return page;
        } finally {
            lock.unlock();
        }
    }

    private PageRegion map(long request) {
        long base = mapper.map(regionSize, request);
        if (!PageMap.covers(base, regionSize)) {
            mapper.unmap(base, regionSize);
            throw new OutOfMemoryError("the OS mapped a region for small blocks at 0x" + Long.toHexString(base)
                    + ", above the 48-bit addresses the page map covers; its " + regionSize + " bytes are given"
                    + " back");
        }
        PageRegion region = new PageRegion(this, base, regionSize);
        table.add(region);
        return region;
    }

    /**
     * Gives {@code page}'s slot back; the page is {@link Page#RELEASED} already.
     *
     * @return the region to unmap, once the caller has let go of every lock, or null
     */
    PageRegion release(Page page) {
        lock.lock();
        try {
            if (closed) { // close has the region: it unmaps it, once
                return null;
            }
            releasedAllocations.addAndGet(page.allocations);
            releasedFrees.addAndGet(page.frees());
            releasedBytes.addAndGet(page.allocatedBytes);
            PageRegion region = page.region;
            boolean wasFull = region.freeSlotCount == 0;
            region.release(page);
            if (!region.isEmpty()) {
                if (wasFull) {
                    withRoom.addFirst(region);
                }
                return null;
            }
            if (!wasFull) {
                withRoom.remove(region);
            }
            if (emptyBudget.tryKeep()) {
                empty.addFirst(region);
                return null;
            }
            table.remove(region);
            return region;
        } finally {
            lock.unlock();
        }
    }

    /** Takes every empty region out, for the caller to unmap: trim, or room under the cap. */
    List<PageRegion> detachEmpty() {
        lock.lock();
        try {
            List<PageRegion> detached = new ArrayList<>(empty);
            for (PageRegion region : detached) {
                table.remove(region);
                emptyBudget.leave();
            }
            empty.clear();
            return detached;
        } finally {
            lock.unlock();
        }
    }

    /** Takes every region out, pages or not, for a heap that closes. */
    List<PageRegion> detachAll() {
        lock.lock();
        try {
            closed = true;
            List<PageRegion> all = table.all();
            for (PageRegion region : all) {
                region.removePages();
                table.remove(region);
            }
            for (int i = 0; i < empty.size(); i++) {
                emptyBudget.leave();
            }
            empty.clear();
            withRoom.clear();
            return all;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {allocations, frees, allocated bytes} as the owners of the pages counted them, the pages given back included;
     * read without the lock and without the owners' knowledge, so exact only once they are quiet (a page given back
     * meanwhile may be missed or counted twice).
     */
    long[] totals() {
        long[] totals = {releasedAllocations.get(), releasedFrees.get(), releasedBytes.get()};
        for (PageRegion region : table.all()) {
            for (int slot = 0; slot < region.slotCount(); slot++) {
                Page page = region.pageInSlot(slot);
                if (page != null) {
                    totals[0] += page.allocations;
                    totals[1] += page.frees();
                    totals[2] += page.allocatedBytes;
                }
            }
        }
        return totals;
    }

    /** A copy of every region, for statistics, the heap map and the verifier. */
    List<PageRegion> all() {
        return table.all();
    }

    int count() {
        return table.size();
    }

    /**
     * Regions with pages that hold no block in use: pages threads keep for their next allocation (a hint while
     * threads allocate). The regions with no page at all are counted in {@link EmptyRegions}.
     */
    int countWithOnlyEmptyPages() {
        int count = 0;
        for (PageRegion region : table.all()) {
            if (!region.isEmpty() && region.holdsNoBlock()) {
                count++;
            }
        }
        return count;
    }
}
