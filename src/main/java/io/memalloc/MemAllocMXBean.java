package io.memalloc;

/**
 * The management view of one {@link MemAlloc}: its {@linkplain MemAlloc#stats() counters} as attributes, and
 * {@link MemAlloc#trim() trim} and {@link MemAlloc#heapMap() heapMap} as operations, for JConsole, VisualVM and JMX
 * dashboards.
 *
 * <p>{@link MemAlloc#global()} registers its bean in the platform MBean server when it is made, as
 * {@code io.memalloc:type=MemAlloc,name=global}; a private allocator does when built with
 * {@link MemAlloc.Builder#managementBean(boolean) managementBean(true)}, as {@code io.memalloc:type=MemAlloc,name=NAME},
 * until it closes.
 *
 * {@snippet lang = java file = "JavadocSnippets.java" region = "mxbean"}
 *
 * <p>Each attribute is read on its own, so two of them may come from different moments; {@link MemAlloc#stats()}
 * reads them together.
 */
public interface MemAllocMXBean {
    /** {@return the allocator's {@linkplain MemAlloc#name() name}} */
    String getName();

    /** {@return the bytes mapped from the OS now: regions, large blocks and spare large mappings} */
    long getMappedBytes();

    /** {@return the bytes in live blocks, as asked for; the chunks kept for the next arenas are not counted} */
    long getAllocatedBytes();

    /** {@return how many regions are mapped now, empty ones included} */
    int getRegionCount();

    /** {@return how many regions have no live block and are kept mapped for reuse} */
    int getEmptyRegionCount();

    /** {@return how many live blocks have a mapping of their own} */
    int getLargeBlockCount();

    /** {@return how many allocations are not freed yet} */
    long getLiveAllocations();

    /** {@return how many allocations were made so far} */
    long getAllocationCount();

    /** {@return how many frees were made so far} */
    long getFreeCount();

    /** {@return how many mappings were made so far} */
    long getMapCount();

    /** {@return how many mappings were given back so far} */
    long getUnmapCount();

    /** {@return the bytes in the zeroed first chunks kept for the next arenas (not counted as allocated)} */
    long getArenaPoolBytes();

    /** {@return how many arenas became unreachable without being closed, so far (their memory went back)} */
    long getLeakedArenas();

    /**
     * Gives back to the OS what is free, as {@link MemAlloc#trim()}.
     *
     * @return the bytes given back
     */
    long trim();

    /** {@return a picture of the heap, as {@link MemAlloc#heapMap()} draws it} */
    String heapMap();
}
