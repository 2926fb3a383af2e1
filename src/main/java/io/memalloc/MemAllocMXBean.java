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
 * {@snippet lang = java:
 * MBeanServer server = ManagementFactory.getPlatformMBeanServer();
 * MemAllocMXBean global = JMX.newMXBeanProxy(server,
 *         new ObjectName("io.memalloc:type=MemAlloc,name=global"), MemAllocMXBean.class);
 * long mapped = global.getMappedBytes();
 * }
 *
 * <p>Each attribute is read on its own, so two of them may come from different moments; {@link MemAlloc#stats()}
 * reads them together.
 */
public interface MemAllocMXBean {
    /** The allocator's {@linkplain MemAlloc#name() name}. */
    String getName();

    /** Bytes mapped from the OS now: regions and large blocks. */
    long getMappedBytes();

    /** Bytes in live blocks, as asked for. */
    long getAllocatedBytes();

    /** Regions mapped now, empty ones included. */
    int getRegionCount();

    /** Regions with no live block, kept mapped for reuse. */
    int getEmptyRegionCount();

    /** Live blocks that have a mapping of their own. */
    int getLargeBlockCount();

    /** Allocations not freed yet. */
    long getLiveAllocations();

    /** Allocations so far. */
    long getAllocationCount();

    /** Frees so far. */
    long getFreeCount();

    /** Mappings made so far. */
    long getMapCount();

    /** Mappings given back so far. */
    long getUnmapCount();

    /** Gives back to the OS what is free, as {@link MemAlloc#trim()}; returns the bytes given back. */
    long trim();

    /** A picture of the heap, as {@link MemAlloc#heapMap()}. */
    String heapMap();
}
