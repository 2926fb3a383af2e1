package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The faults of the original Rust allocator, each pinned by a test. */
class RegressionTest {
    private final MemAlloc alloc = MemAlloc.builder().stripes(2).regionSize(64 * 1024).build();

    @AfterEach
    void heapIsSoundAndEmpty() {
        alloc.verifyHeap();
        assertThat(alloc.stats().allocatedBytes()).isZero();
        assertThat(alloc.stats().liveAllocations()).isZero();
        alloc.close();
    }

    /** Its region size ignored its own header: requests of 4009 to 4056 bytes failed. */
    @Test
    void sizesAroundAPageAnd8152Succeed() {
        List<MemorySegment> live = new ArrayList<>();
        for (long size = 4000; size <= 4100; size++) {
            live.add(allocateAndFill(size));
        }
        live.add(allocateAndFill(8152));
        for (long size = 32 * 1024 - 64; size <= 32 * 1024 + 64; size += 8) {
            live.add(allocateAndFill(size)); // both sides of the large-block threshold: half of these 64 KiB regions
        }
        alloc.verifyHeap();
        assertNoOverlap(live);
        for (MemorySegment segment : live) {
            assertThat(Contents.firstMismatch(segment, (int) segment.byteSize())).isEqualTo(-1);
            alloc.free(segment);
        }
    }

    /**
     * Alignment padding was not counted in the fit check: blocks overlapped at alignment 64, and alignment 4096
     * returned an address past the mapping.
     */
    @Test
    void everyAlignmentFrom1ByteTo1MiBIsMetWithoutOverlap() {
        List<MemorySegment> live = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            for (long alignment = 1; alignment <= 1 << 20; alignment <<= 1) {
                for (long size : new long[] {1, 8, 24, 100, 4000}) {
                    MemorySegment segment = alloc.allocate(size, alignment);
                    assertThat(segment.address() % alignment).as("alignment %d", alignment).isZero();
                    assertThat(segment.byteSize()).isEqualTo(size);
                    Contents.fill(segment, (int) (alignment + size));
                    live.add(segment);
                }
            }
            alloc.verifyHeap();
            // Free every other one, so that the next round fits aligned blocks into gaps.
            for (int i = live.size() - 1; i >= 0; i -= 2) {
                alloc.free(live.remove(i));
            }
        }
        assertNoOverlap(live);
        for (MemorySegment segment : live) {
            long alignment = Long.lowestOneBit(segment.address());
            assertThat(Contents.firstMismatch(segment, segment.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)))
                    .as("block at 0x%x", segment.address()).isEqualTo(-1);
            assertThat(alignment).isPositive();
            alloc.free(segment);
        }
    }

    /** Its one allocate/free pair mapped and unmapped a page each time: now the emptied region is kept. */
    @Test
    void allocateFreeInALoopMapsOnce() {
        for (int i = 0; i < 10_000; i++) {
            alloc.free(alloc.allocate(64, 16));
        }

        assertThat(alloc.stats().mapCount()).isEqualTo(1);
        assertThat(alloc.stats().unmapCount()).isZero();
        assertThat(alloc.stats().regionCount()).isEqualTo(1);
    }

    /** Its header back-pointer overwrote the block's own "free" flag. */
    @Test
    void writingTheWholePayloadDoesNotTouchTheAllocatorsMetadata() {
        List<MemorySegment> live = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            MemorySegment segment = alloc.allocate(i * 8L, 8);
            Contents.fill(segment, 0xFF);
            live.add(segment);
        }
        alloc.verifyHeap();
        for (MemorySegment segment : live) {
            alloc.free(segment);
        }
    }

    private MemorySegment allocateAndFill(long size) {
        MemorySegment segment = alloc.allocate(size, 8);
        assertThat(segment.byteSize()).isEqualTo(size);
        assertThat(Contents.firstMismatch(segment, 0)).isEqualTo(-1);
        Contents.fill(segment, (int) size);
        return segment;
    }

    static void assertNoOverlap(List<MemorySegment> segments) {
        List<MemorySegment> sorted = new ArrayList<>(segments);
        sorted.sort(Comparator.comparingLong(MemorySegment::address));
        for (int i = 1; i < sorted.size(); i++) {
            MemorySegment before = sorted.get(i - 1);
            MemorySegment after = sorted.get(i);
            assertThat(before.address() + before.byteSize())
                    .as("block at 0x%x overlaps the next", before.address())
                    .isLessThanOrEqualTo(after.address());
        }
    }
}
