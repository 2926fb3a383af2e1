package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Closing, the global allocator, statistics, trimming, the heap map and the verifier. */
class LifecycleTest {
    /** A request above the small blocks' 1 KiB: a block of a stripe, with a header. */
    private static final long MEDIUM = 2000;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    @Test
    void closeUnmapsEverythingAndSegmentsBecomeInaccessible() {
        MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build();
        MemorySegment small = alloc.allocate(64, 16);
        MemorySegment large = alloc.allocate(1 << 20, 16);
        small.set(JAVA_LONG, 0, 1);
        assertThat(alloc.stats().mappedBytes()).isPositive();

        alloc.close();

        assertThat(log.take()).singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 2, 64 + (1 << 20)))
                .endsWith("Build it with leakSites(true) to learn where they were allocated.");
        assertThat(alloc.stats().mappedBytes()).isZero();
        assertThat(alloc.stats().regionCount()).isZero();
        assertThat(small.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> small.get(JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> large.get(JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::close).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.allocate(8, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.free(small)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.reallocate(small, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::trim).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void theGlobalAllocatorServesEveryThreadAndCannotBeClosed() throws Exception {
        MemAlloc global = MemAlloc.global();
        MemorySegment[] fromOtherThread = new MemorySegment[1];
        Thread thread = new Thread(() -> fromOtherThread[0] = global.allocate(128, 16));
        thread.start();
        thread.join();

        fromOtherThread[0].set(JAVA_LONG, 120, 42);
        assertThat(fromOtherThread[0].get(JAVA_LONG, 120)).isEqualTo(42);
        assertThat(fromOtherThread[0].scope().isAlive()).isTrue();
        assertThat(MemAlloc.global()).isSameAs(global);
        global.free(fromOtherThread[0]);
        assertThatThrownBy(global::close).isInstanceOf(UnsupportedOperationException.class);
        assertThat(global.allocate(8, 8).scope().isAlive()).isTrue();
    }

    @Test
    void statsCountWhatHappens() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build()) {
            MemorySegment a = alloc.allocate(100, 16);
            MemorySegment b = alloc.allocate(50_000, 16);

            AllocatorStats stats = alloc.stats();
            assertThat(stats.allocatedBytes()).isEqualTo(50_100);
            assertThat(stats.allocationCount()).isEqualTo(2);
            assertThat(stats.freeCount()).isZero();
            assertThat(stats.regionCount()).isEqualTo(1);
            assertThat(stats.largeBlockCount()).isEqualTo(1);
            assertThat(stats.mappedBytes()).isEqualTo(64 * 1024 + 50_000 + 4096 - 50_000 % 4096);
            assertThat(stats.mapCount()).isEqualTo(2);

            alloc.free(a);
            alloc.free(b);
            stats = alloc.stats();
            assertThat(stats.allocatedBytes()).isZero();
            assertThat(stats.freeCount()).isEqualTo(2);
            assertThat(stats.emptyRegionCount()).isEqualTo(1);
            assertThat(stats.unmapCount()).isEqualTo(1);
        }
    }

    @Test
    void trimPurgesLargeFreeSpansAndTheMemoryIsStillUsable() {
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(1 << 20).build()) {
            MemorySegment guard = alloc.allocate(MEDIUM, 16); // above the small blocks: in the span's region
            MemorySegment span = alloc.allocate(300_000, 16);
            MemorySegment tail = alloc.allocate(MEDIUM, 16);
            Contents.fill(span, 0xEE);
            alloc.free(span);

            long given = alloc.trim();

            assertThat(given).isGreaterThanOrEqualTo(290_000);
            assertThat(alloc.heapMap()).contains("purged");
            alloc.verifyHeap();
            MemorySegment again = alloc.allocate(300_000, 16);
            assertThat(again.address()).isEqualTo(span.address());
            assertThat(Contents.firstMismatch(again, 0)).isEqualTo(-1);
            Contents.fill(again, 1);
            alloc.free(again);
            alloc.free(guard);
            alloc.free(tail);
            alloc.verifyHeap();
        }
    }

    @Test
    void heapMapDrawsRegionsBlocksAndLargeBlocks() {
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).build()) {
            MemorySegment a = alloc.allocate(MEDIUM, 16);
            MemorySegment small = alloc.allocate(64, 16);
            MemorySegment large = alloc.allocate(100_000, 4096);

            String map = alloc.heapMap();

            assertThat(map).contains("regions: 2 (0 empty)", "large blocks: 1", "live allocations: 3")
                    .contains("region 0x" + Long.toHexString(a.address() & -(64 * 1024)) + " (64.0 KiB, stripe 0)")
                    .contains("0x" + Long.toHexString(a.address() - 8) + "  in use")
                    .contains("2.0 KiB asked, align 16")
                    .contains("page region 0x" + Long.toHexString(small.address()) + " (64.0 KiB): 1 pages of 1")
                    .contains("page 0x" + Long.toHexString(small.address()) + ": 64 B blocks, 1 of 1024 in use")
                    .contains("large 0x" + Long.toHexString(large.address()))
                    .containsPattern("\\|[#+]+\\.+\\|");
            alloc.free(a);
            alloc.free(small);
            alloc.free(large);
        }
    }

    @Test
    void verifyHeapNamesABrokenFooter() {
        MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).build();
        MemorySegment a = alloc.allocate(MEDIUM, 16);
        MemorySegment b = alloc.allocate(MEDIUM, 16);
        alloc.free(a);
        alloc.verifyHeap();
        // a's block: 8 B header at a - 8, then b's block, so a's footer is the word just before b's header.
        AddressSpace.all().set(JAVA_LONG, b.address() - 16, 12345);

        assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("footer 12345");
        alloc.close();
        assertThat(log.take()).as("b, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 1, MEDIUM));
    }

    @Test
    void verifyHeapNamesAMissingFreeListEntry() {
        MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).build();
        MemorySegment a = alloc.allocate(MEDIUM, 16);
        alloc.allocate(MEDIUM, 16);
        MemorySegment c = alloc.allocate(MEDIUM, 16);
        alloc.allocate(MEDIUM, 16);
        alloc.free(a);
        alloc.free(c);
        // Both are in one bin, c first (LIFO); cut the list after c by clearing c's next link (its first payload word).
        AddressSpace.all().set(JAVA_LONG, c.address(), 0L);

        assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("missing from its list");
        alloc.close();
        assertThat(log.take()).as("the two blocks left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 2, 2 * MEDIUM));
    }
}
