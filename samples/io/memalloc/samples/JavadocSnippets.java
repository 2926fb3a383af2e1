package io.memalloc.samples;

import io.memalloc.AllocatorStats;
import io.memalloc.MemAlloc;
import io.memalloc.MemAllocMXBean;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * The examples in MemAlloc's Javadoc: each {@code @start region=NAME} ... {@code @end} below is shown by a
 * {@code {@snippet file="JavadocSnippets.java" region=NAME}} tag. Being here, they compile with every build, and
 * {@code ./sample snippets} runs each one.
 */
public final class JavadocSnippets {
    private JavadocSnippets() {}

    public static void main(String[] args) throws Exception {
        packageOverview();
        allocator();
        builder();
        leakSites();
        stats();
        arena();
        managementBean();
        System.out.println("every Javadoc example ran");
    }

    static void packageOverview() {
        // @start region=package
        MemorySegment buffer = MemAlloc.global().allocate(1024, 16);
        try {
            buffer.setString(0, "hello");
        } finally {
            MemAlloc.global().free(buffer);
        }
        // @end
    }

    static void allocator() {
        // @start region=allocator
        MemAlloc alloc = MemAlloc.global();
        MemorySegment point = alloc.allocate(ValueLayout.JAVA_INT, 2);   // zeroed, 8 bytes, 4-byte aligned
        point.setAtIndex(ValueLayout.JAVA_INT, 1, 42);
        point = alloc.reallocate(point, 16);                             // keeps 42, the new bytes read as zero
        alloc.free(point);
        // @end
        check(point.byteSize() == 16, "reallocate gives the new size");
    }

    static void builder() {
        // @start region=builder
        try (MemAlloc alloc = MemAlloc.builder()
                .name("decoder")                    // in JFR events, logs and its MXBean
                .regionSize(1 << 20)                // 1 MiB regions
                .maxMappedBytes(256L << 20)         // never more than 256 MiB mapped
                .build()) {
            MemorySegment buffer = alloc.allocate(4096, 64);
            // ... use it ...
            alloc.free(buffer);
        }                                           // everything unmapped
        // @end
    }

    static void leakSites() {
        // @start region=leakSites
        MemAlloc alloc = MemAlloc.builder().name("parser").leakSites(true).build();
        MemorySegment forgotten = alloc.allocate(100, 8);
        // ... never freed ...
        alloc.close();   // WARNING: MemAlloc 'parser' closed with 1 blocks never freed (100 bytes asked for); ...
                         //   The oldest were allocated:
                         //   at com.example.Parser.parse(Parser.java:42)
        // @end
        check(!forgotten.scope().isAlive(), "a closed allocator's segments are no longer alive");
    }

    static void stats() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemorySegment buffer = alloc.allocate(1000, 8);
            // @start region=stats
            AllocatorStats stats = alloc.stats();
            System.out.printf("%d live blocks, %d bytes asked for, %d bytes mapped in %d regions%n",
                    stats.liveAllocations(), stats.allocatedBytes(), stats.mappedBytes(), stats.regionCount());
            // @end
            check(stats.liveAllocations() == 1 && stats.allocatedBytes() == 1000, "stats count the live block");
            alloc.free(buffer);
        }
    }

    /**
     * The region is one piece, the arena's whole life, as a region must be (one opened twice shows only its last
     * part). Where the example says the segments go to native code, the Javadoc shows that comment in place of
     * the check that {@code ./sample snippets} runs.
     */
    static void arena() {
        // @start region=arena
        try (Arena arena = MemArena.ofConfined()) {           // was: Arena.ofConfined()
            MemorySegment name = arena.allocateFrom("hello");
            MemorySegment ints = arena.allocate(ValueLayout.JAVA_INT, 100);
            // @replace regex="check\(.*" replacement="// ... pass them to native code ...":
            check(name.getString(0).equals("hello") && ints.byteSize() == 400, "arena allocations");
        }                                                     // everything freed at once
        // @end
    }

    static void managementBean() throws Exception {
        MemAlloc.global(); // its bean is registered when it is made
        // @start region=mxbean
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        MemAllocMXBean global = JMX.newMXBeanProxy(server,
                new ObjectName("io.memalloc:type=MemAlloc,name=global"), MemAllocMXBean.class);
        long mapped = global.getMappedBytes();
        // @end
        check(mapped > 0, "the global allocator's bean reads its mapped bytes");
    }

    private static void check(boolean condition, String what) {
        if (!condition) {
            throw new IllegalStateException("Javadoc example failed: " + what);
        }
    }
}
