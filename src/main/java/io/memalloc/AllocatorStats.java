package io.memalloc;

/**
 * The counters of a {@link MemAlloc} at one moment, from {@link MemAlloc#stats()}.
 *
 * <p>Each stripe's counters are read under its lock, so each is exact, but the stripes are read one after another:
 * the sums are consistent only when no other thread is allocating.
 *
 * {@snippet lang = java file = "JavadocSnippets.java" region = "stats"}
 *
 * @param mappedBytes      bytes mapped from the OS now: regions, large blocks, spare large mappings, and mappings
 *                         the OS refused to take back (until a trim or close gives them back)
 * @param allocatedBytes   bytes in live blocks, as asked for (without headers, padding or rounding); an open arena's
 *                         chunks count whole, the zeroed first chunks kept for the next arenas do not
 *                         ({@code arenaPoolBytes})
 * @param regionCount      regions mapped now, empty ones included
 * @param emptyRegionCount regions with no live block, kept mapped for reuse
 * @param largeBlockCount  live blocks that have a mapping of their own
 * @param allocationCount  allocations so far (a reallocate that moves a block counts as one, and as one free); a
 *                         first chunk kept for arenas counts once, when the heap first hands it out
 * @param freeCount        frees so far
 * @param mapCount         mappings made so far
 * @param unmapCount       mappings given back so far
 * @param arenaPoolBytes   bytes in the zeroed first chunks kept for the next arenas: mapped and ready, but no one's
 *                         (a confined or shared arena that closes leaves its first chunk here, while the pool has room); {@link MemAlloc#trim()} gives them back
 * @param arenaPoolChunks  how many such chunks there are
 * @param leakedArenas     arenas that became unreachable without being closed, so far: the leak watch gave their
 *                         memory back and reported each (see {@link MemArena})
 */
public record AllocatorStats(long mappedBytes, long allocatedBytes, int regionCount, int emptyRegionCount,
                             int largeBlockCount, long allocationCount, long freeCount, long mapCount,
                             long unmapCount, long arenaPoolBytes, int arenaPoolChunks, long leakedArenas) {

    /**
     * {@return how many allocations are not freed yet} Open arenas' chunks are among them; the chunks kept for the
     * next arenas are not, so that once every block is freed and every arena closed this is 0, as is
     * {@link #allocatedBytes()}.
     */
    public long liveAllocations() {
        // Not below 0: the pool and the heap are read one after the other, and arenas may open and close between.
        return Math.max(0, allocationCount - freeCount - arenaPoolChunks);
    }
}
