package io.memalloc.internal.heap;

/**
 * The counters of a {@link Heap} at one moment; see {@code io.memalloc.AllocatorStats} for what each means.
 */
public record HeapStats(long mappedBytes, long allocatedBytes, int regionCount, int emptyRegionCount,
                        int largeBlockCount, long allocationCount, long freeCount, long mapCount,
                        long unmapCount) {
}
