package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The test suite of the original Rust allocator, case by case. One stripe, so that which block serves a request
 * is deterministic.
 */
class RustSuiteTest {
    /** Above the small blocks' 1 KiB: blocks with headers, in a stripe's regions, that merge when freed. */
    private static final long MEDIUM = 1100;

    /** Fails a test that leaves a block to {@link #heapIsSound}'s close, which would report it as never freed. */
    @RegisterExtension
    final LogCapture log = new LogCapture();

    private final MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).build();

    @AfterEach
    void heapIsSound() {
        alloc.verifyHeap();
        alloc.close();
    }

    @Test
    void writesToTwoBlocksLeaveTheFirstIntact() {
        MemorySegment first = alloc.allocate(64, 8);
        MemorySegment second = alloc.allocate(64, 8);
        for (int i = 0; i < 8; i++) {
            first.setAtIndex(JAVA_LONG, i, 0x1111_1111_1111_1111L * (i + 1));
        }
        second.fill((byte) 0x7F);

        for (int i = 0; i < 8; i++) {
            assertThat(first.getAtIndex(JAVA_LONG, i)).isEqualTo(0x1111_1111_1111_1111L * (i + 1));
        }
        assertThat(Contents.firstMismatch(second, 0x7F)).isEqualTo(-1);
        assertThat(first.asOverlappingSlice(second)).isEmpty();
        alloc.free(first);
        alloc.free(second);
    }

    @Test
    void freeThenAllocateReusesTheAddress() {
        MemorySegment a = alloc.allocate(100, 16);
        long address = a.address();
        alloc.free(a);

        // Rust's alloc is uninitialized: a zeroed allocation takes a block that reads as zero first.
        MemorySegment b = alloc.allocateUninitialized(100, 16);

        assertThat(b.address()).isEqualTo(address);
        alloc.free(b);
    }

    @Test
    void freeingNullIsHarmless() {
        alloc.free(MemorySegment.NULL);

        assertThat(alloc.stats().freeCount()).isZero();
        MemorySegment a = alloc.allocate(16, 1);
        a.set(JAVA_INT, 0, 7);
        assertThat(a.get(JAVA_INT, 0)).isEqualTo(7);
        alloc.free(a);
    }

    @Test
    void freedNeighboursMergeAndServeALargerRequestAtTheFirstAddress() {
        MemorySegment a = alloc.allocate(MEDIUM, 16);
        MemorySegment b = alloc.allocate(MEDIUM, 16);
        MemorySegment guard = alloc.allocate(MEDIUM, 16);
        alloc.free(a);
        alloc.free(b);

        MemorySegment merged = alloc.allocate(2 * MEDIUM, 16);

        assertThat(merged.address()).isEqualTo(a.address());
        alloc.free(merged);
        alloc.free(guard);
    }

    @Test
    void freedNeighboursMergeInTheOtherOrderToo() {
        MemorySegment a = alloc.allocate(MEDIUM, 16);
        MemorySegment b = alloc.allocate(MEDIUM, 16);
        MemorySegment guard = alloc.allocate(MEDIUM, 16);
        alloc.free(b);
        alloc.free(a);

        MemorySegment merged = alloc.allocate(2 * MEDIUM, 16);

        assertThat(merged.address()).isEqualTo(a.address());
        alloc.free(merged);
        alloc.free(guard);
    }

    @Test
    void aRegionIsGivenBackWhenAllItsBlocksAreFree() {
        try (MemAlloc uncached = MemAlloc.builder().stripes(1).regionSize(64 * 1024).cachedRegions(0).build()) {
            MemorySegment a = uncached.allocate(MEDIUM, 16);
            MemorySegment b = uncached.allocate(2000, 16);
            assertThat(uncached.stats().regionCount()).isEqualTo(1);

            uncached.free(a);
            assertThat(uncached.stats().regionCount()).isEqualTo(1);
            uncached.free(b);

            assertThat(uncached.stats().regionCount()).isZero();
            assertThat(uncached.stats().mappedBytes()).isZero();
            assertThat(uncached.stats().unmapCount()).isEqualTo(1);
            uncached.verifyHeap();
        }
    }

    @Test
    void aCachedEmptyRegionIsGivenBackByTrim() {
        MemorySegment a = alloc.allocate(1000, 16);
        alloc.free(a);
        assertThat(alloc.stats().regionCount()).isEqualTo(1);
        assertThat(alloc.stats().emptyRegionCount()).isEqualTo(1);

        long given = alloc.trim();

        assertThat(given).isGreaterThanOrEqualTo(64 * 1024);
        assertThat(alloc.stats().regionCount()).isZero();
        assertThat(alloc.stats().mappedBytes()).isZero();
    }

    @Test
    void twoLargeRequestsGetDistinctMappings() {
        MemorySegment a = alloc.allocate(200_000, 16);
        MemorySegment b = alloc.allocate(300_000, 16);
        a.fill((byte) 1);
        b.fill((byte) 2);

        assertThat(a.asOverlappingSlice(b)).isEmpty();
        assertThat(alloc.stats().largeBlockCount()).isEqualTo(2);
        assertThat(Contents.firstMismatch(a, 1)).isEqualTo(-1);
        assertThat(Contents.firstMismatch(b, 2)).isEqualTo(-1);
        alloc.free(a);
        alloc.free(b);
        assertThat(alloc.stats().largeBlockCount()).isZero();
        assertThat(alloc.stats().mappedBytes()).isZero();
    }

    @Test
    void zeroSizeAllocationsAreDistinctNonNullAndFreeable() {
        MemorySegment a = alloc.allocate(0, 1);
        MemorySegment b = alloc.allocate(0, 1);

        assertThat(a.byteSize()).isZero();
        assertThat(a.address()).isNotZero().isNotEqualTo(b.address());
        alloc.free(a);
        alloc.free(b);
        assertThat(alloc.stats().liveAllocations()).isZero();
    }

    @Test
    void eightBytesAlignedTo64() {
        MemorySegment small = alloc.allocate(8, 8);
        MemorySegment aligned = alloc.allocate(8, 64);

        assertThat(aligned.address() % 64).isZero();
        assertThat(aligned.byteSize()).isEqualTo(8);
        aligned.set(JAVA_LONG, 0, -1L);
        assertThat(small.get(JAVA_LONG, 0)).isZero();
        alloc.free(aligned);
        alloc.free(small);
    }

    @Test
    void reallocateGrowKeepsTheData() {
        MemorySegment a = alloc.allocate(64, 16);
        for (int i = 0; i < 64; i++) {
            a.set(JAVA_BYTE, i, (byte) i);
        }

        MemorySegment grown = alloc.reallocate(a, 4096);

        assertThat(grown.byteSize()).isEqualTo(4096);
        for (int i = 0; i < 64; i++) {
            assertThat(grown.get(JAVA_BYTE, i)).isEqualTo((byte) i);
        }
        assertThat(Contents.firstMismatch(grown.asSlice(64), 0)).isEqualTo(-1);
        alloc.free(grown);
    }

    @Test
    void reallocateShrinkKeepsThePrefix() {
        MemorySegment a = alloc.allocate(3 * MEDIUM, 16);
        for (int i = 0; i < 1000; i++) {
            a.set(JAVA_BYTE, i, (byte) (i * 7));
        }

        MemorySegment shrunk = alloc.reallocate(a, 100);

        assertThat(shrunk.address()).isEqualTo(a.address());
        assertThat(shrunk.byteSize()).isEqualTo(100);
        for (int i = 0; i < 100; i++) {
            assertThat(shrunk.get(JAVA_BYTE, i)).isEqualTo((byte) (i * 7));
        }
        alloc.free(shrunk);
    }

    @Test
    void reallocateKeepsAHighAlignment() {
        MemorySegment a = alloc.allocate(100, 4096);
        MemorySegment blocker = alloc.allocate(16, 16);
        a.fill((byte) 9);

        MemorySegment moved = alloc.reallocate(a, 20_000);
        MemorySegment large = alloc.reallocate(moved, 100_000);

        assertThat(moved.address() % 4096).isZero();
        assertThat(large.address() % 4096).isZero();
        assertThat(Contents.firstMismatch(large, 100, 9)).isEqualTo(-1);
        assertThat(Contents.firstMismatch(large.asSlice(100), 0)).isEqualTo(-1);
        alloc.free(large);
        alloc.free(blocker);
    }
}
