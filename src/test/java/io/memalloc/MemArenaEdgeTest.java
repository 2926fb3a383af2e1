package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The edges of the arena contract: throwing cleanups, MemAlloc refusing arena memory, zero sizes, argument order. */
class MemArenaEdgeTest {

    private static MemArena open(MemAlloc alloc, String kind) {
        return kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena();
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aCleanupThatThrowsAtCloseStillGivesTheMemoryBack(String kind) {
        MemAlloc alloc = MemAlloc.builder().build();
        MemArena arena = open(alloc, kind);
        MemorySegment segment = arena.allocate(64, 8);
        @SuppressWarnings("restricted")
        MemorySegment bound = MemorySegment.ofAddress(segment.address()).reinterpret(8, arena, s -> {
            throw new IllegalStateException("cleanup failed on purpose");
        });
        assertThat(bound.scope().isAlive()).isTrue();

        assertThatThrownBy(arena::close).hasMessageContaining("cleanup failed on purpose");

        assertThat(arena.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> arena.allocate(8, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(arena::close).isInstanceOf(IllegalStateException.class);
        alloc.trim();
        assertThat(alloc.stats().allocatedBytes()).isZero();
        alloc.verifyHeap();
        alloc.close(); // the arena counts as closed: nothing holds the allocator open
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void memAllocRefusesToFreeOrReallocateAnArenasMemory(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemArena arena = open(alloc, kind);
            MemorySegment slice = arena.allocate(64, 8);
            MemorySegment ownBlock = arena.allocate(4 << 20, 16);

            for (MemorySegment segment : List.of(slice, ownBlock)) {
                assertThatThrownBy(() -> alloc.free(segment)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("not allocated by this MemAlloc");
                assertThatThrownBy(() -> alloc.reallocate(segment, 8)).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> MemAlloc.global().free(segment))
                        .isInstanceOf(IllegalArgumentException.class);
            }
            ownBlock.set(JAVA_LONG, 0, 9);
            assertThat(ownBlock.get(JAVA_LONG, 0)).isEqualTo(9);
            arena.close();
            assertThatThrownBy(() -> alloc.free(slice)).isInstanceOf(IllegalArgumentException.class);
            alloc.verifyHeap();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void zeroLengthSegmentsHaveDistinctAddressesAsInTheJdk(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build(); MemArena arena = open(alloc, kind)) {
            List<Long> addresses = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                addresses.add(arena.allocate(0, 1).address());
                addresses.add(arena.allocate(i % 3, 1).address());
            }
            assertThat(addresses).doesNotHaveDuplicates().doesNotContain(0L);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void badArgumentsAreReportedBeforeAClosedArena(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemArena arena = open(alloc, kind);
            arena.close();

            assertThatThrownBy(() -> arena.allocate(-1, 8)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocate(8, 3)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocate(0, 1L << 62)).isInstanceOf(IllegalStateException.class);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {64 * 1024, 4 << 20})
    void smallAndDefaultRegionsServeEverySizeAndAlignment(int regionSize) {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(regionSize).build()) {
            for (int round = 0; round < 50; round++) {
                try (MemArena arena = alloc.newConfinedArena()) {
                    List<MemorySegment> segments = new ArrayList<>();
                    for (long alignment = 1; alignment <= 8192; alignment <<= 1) {
                        for (long size : new long[] {0, 1, 100, regionSize / 16, regionSize / 3}) {
                            MemorySegment segment = arena.allocate(size, alignment);
                            assertThat(segment.address() % alignment).isZero();
                            assertThat(Contents.firstMismatch(segment, 0)).as("round %d", round).isEqualTo(-1);
                            Contents.fill(segment, 0x77);
                            segments.add(segment);
                        }
                    }
                    RegressionTest.assertNoOverlap(segments);
                }
            }
            alloc.verifyHeap();
        }
    }

    /**
     * With 64 KiB regions the largest chunk is a first chunk's 16 KiB: a request that fits a first chunk only
     * without its alignment padding needs a chunk bigger than that. (It threw IndexOutOfBoundsException in a
     * confined arena, and made a shared one take 16 KiB chunks until one happened to be aligned.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aRequestWhosePaddingOverflowsTheLargestChunkStillFits(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build()) {
            try (MemArena arena = open(alloc, kind)) {
                arena.allocate(8, 8); // the arena's bump pointer is no longer aligned to anything big
                for (long[] request : new long[][] {{16384, 32}, {16000, 1024}, {16384, 16384}, {1, 16384}}) {
                    MemorySegment segment = arena.allocate(request[0], request[1]);
                    assertThat(segment.byteSize()).isEqualTo(request[0]);
                    assertThat(segment.address() % request[1]).isZero();
                    segment.fill((byte) 7);
                }
                assertThat(arena.chunkCount()).isLessThanOrEqualTo(5);
            }
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero(); // the first chunk waits in the pool, counted apart
        }
    }
}
