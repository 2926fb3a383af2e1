package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where each live block of a heap was allocated, for the report of an allocator that closes with blocks never freed
 * ({@code MemAlloc.builder().leakSites(true)}): the heap's allocate, free and reallocate, keeping the sites right.
 *
 * <pre>
 *  live:  address ──> Site(sequence, stack trace)     put by allocate, moved by reallocate, removed by free
 * </pre>
 *
 * <p>A site is forgotten before its block is freed or moved (after it, another thread may take the address and
 * record its own site at once), and put back where the heap refused the call, which changed nothing. An exception
 * that leaves it unclear whether the block was freed (an unmap the OS refused afterwards) puts nothing back: a site
 * missing from a report misleads less than a wrong one.
 */
public final class BlockSites {
    private final Heap heap;
    private final Map<Long, Sites.Site> live = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();

    public BlockSites(Heap heap) {
        this.heap = heap;
    }

    /** Records that the block at {@code address}, just allocated, was allocated here; returns the address. */
    public long allocated(long address) {
        live.put(address, new Sites.Site("block 0x" + Long.toHexString(address) + " allocated here",
                sequence.incrementAndGet()));
        return address;
    }

    /** {@link Heap#free}, forgetting the block's site. */
    public void free(long address) {
        Sites.Site site = live.remove(address);
        try {
            heap.free(address);
        } catch (IllegalArgumentException refused) { // refused before anything changed: the block is still live
            restore(address, site);
            throw refused;
        }
    }

    /** {@link Heap#reallocate}, keeping the site of the block's first allocation. */
    public long reallocate(long address, long newByteSize) {
        Sites.Site site = live.remove(address);
        long moved;
        try {
            moved = heap.reallocate(address, newByteSize);
        } catch (IllegalArgumentException | OutOfMemoryError refused) { // the block is left as it was
            restore(address, site);
            throw refused;
        }
        restore(moved, site);
        return moved;
    }

    private void restore(long address, Sites.Site site) {
        if (site != null) {
            live.put(address, site);
        }
    }

    /** {@return the sites of at most {@code count} live blocks, the oldest first} */
    public List<Sites.Site> oldest(int count) {
        List<Sites.Site> sites = new ArrayList<>(live.values());
        sites.sort(Comparator.comparingLong(Sites.Site::sequence));
        return sites.subList(0, Math.min(count, sites.size()));
    }
}
