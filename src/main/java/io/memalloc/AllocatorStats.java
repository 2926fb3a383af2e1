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
 * @param allocatedBytes   bytes in live blocks, as asked for (without headers, padding or rounding)
 * @param regionCount      regions mapped now, empty ones included
 * @param emptyRegionCount regions with no live block, kept mapped for reuse
 * @param largeBlockCount  live blocks that have a mapping of their own
 * @param allocationCount  allocations so far (a reallocate that moves a block counts as one, and as one free)
 * @param freeCount        frees so far
 * @param mapCount         mappings made so far
 * @param unmapCount       mappings given back so far
 */
public record AllocatorStats(long mappedBytes, long allocatedBytes, int regionCount, int emptyRegionCount,
                             int largeBlockCount, long allocationCount, long freeCount, long mapCount,
                             long unmapCount) {

    /** {@return how many allocations are not freed yet} */
    public long liveAllocations() {
        return allocationCount - freeCount;
    }
}
