package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every bad input gets a clear exception, corrupts nothing, and the allocator keeps working after it. */
class BadInputTest {
    private final MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).build();
    private final MemorySegment witness = alloc.allocate(64, 16);

    BadInputTest() {
        Contents.fill(witness, 0x5A);
    }

    @AfterEach
    void allocatorStillWorks() {
        assertThat(Contents.firstMismatch(witness, 0x5A)).isEqualTo(-1);
        alloc.verifyHeap();
        MemorySegment after = alloc.allocate(100, 16);
        Contents.fill(after, 1);
        alloc.free(after);
        alloc.free(witness);
        alloc.verifyHeap();
        assertThat(alloc.stats().liveAllocations()).isZero();
        alloc.close();
    }

    @Test
    void negativeSizeIsIllegal() {
        assertThatThrownBy(() -> alloc.allocate(-1, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> alloc.allocateUninitialized(Long.MIN_VALUE, 8))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> alloc.reallocate(witness, -5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-5");
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 3, 24, -8, Long.MIN_VALUE})
    void alignmentThatIsNotAPowerOfTwoIsIllegal(long alignment) {
        assertThatThrownBy(() -> alloc.allocate(8, alignment))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Long.toString(alignment));
    }

    @Test
    void aSizeThatOverflowsIsIllegalAsInTheJdk() {
        assertThatThrownBy(() -> alloc.allocate(ValueLayout.JAVA_LONG, Long.MAX_VALUE / 4))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MAX_VALUE, Long.MAX_VALUE - 100, 1L << 62, 1L << 47})
    void hugeSizesAreOutOfMemory(long size) {
        assertThatThrownBy(() -> alloc.allocate(size, 1)).isInstanceOf(OutOfMemoryError.class);
        assertThat(alloc.stats().largeBlockCount()).isZero();
    }

    @Test
    void hugeAlignmentIsOutOfMemory() {
        assertThatThrownBy(() -> alloc.allocate(8, 1L << 62)).isInstanceOf(OutOfMemoryError.class);
    }

    @Test
    void nullArgumentsAreNullPointers() {
        assertThatThrownBy(() -> alloc.free(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> alloc.reallocate(null, 8)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void freeingNullDoesNothingAndReallocatingNullAllocates() {
        alloc.free(MemorySegment.NULL);
        MemorySegment fresh = alloc.reallocate(MemorySegment.NULL, 32);

        assertThat(fresh.byteSize()).isEqualTo(32);
        assertThat(alloc.stats().liveAllocations()).isEqualTo(2);
        alloc.free(fresh);
    }

    @Test
    void aHeapSegmentIsRefused() {
        MemorySegment onHeap = MemorySegment.ofArray(new byte[64]);

        assertThatThrownBy(() -> alloc.free(onHeap))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("heap segment");
        assertThatThrownBy(() -> alloc.reallocate(onHeap, 8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aSegmentOfAJdkArenaIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment foreign = arena.allocate(64);
            foreign.fill((byte) 3);

            assertThatThrownBy(() -> alloc.free(foreign)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not allocated by this MemAlloc");
            assertThatThrownBy(() -> alloc.reallocate(foreign, 128)).isInstanceOf(IllegalArgumentException.class);
            assertThat(Contents.firstMismatch(foreign, 3)).isEqualTo(-1);
        }
    }

    @Test
    void aSegmentOfAnotherAllocatorIsRefused() {
        try (MemAlloc other = MemAlloc.builder().build()) {
            MemorySegment small = other.allocate(64, 16);
            MemorySegment large = other.allocate(10 << 20, 16);

            assertThatThrownBy(() -> alloc.free(small)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.free(large)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.reallocate(small, 8)).isInstanceOf(IllegalArgumentException.class);
            other.free(small);
            other.free(large);
            other.verifyHeap();
            assertThatThrownBy(() -> MemAlloc.global().free(witness)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void anInteriorSliceIsRefused() {
        MemorySegment block = alloc.allocate(256, 16);
        MemorySegment large = alloc.allocate(100_000, 16);

        for (long offset : new long[] {1, 8, 16, 128}) {
            assertThatThrownBy(() -> alloc.free(block.asSlice(offset)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.free(large.asSlice(offset)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.reallocate(block.asSlice(offset), 8))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        alloc.free(block);
        alloc.free(large);
    }

    @Test
    void aDoubleFreeIsRefused() {
        MemorySegment block = alloc.allocate(256, 16);
        MemorySegment large = alloc.allocate(100_000, 16);
        alloc.free(block);
        alloc.free(large);

        assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("freed already");
        assertThatThrownBy(() -> alloc.free(large)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> alloc.reallocate(block, 512)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> alloc.reallocate(large, 512)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anAddressInAnUnmappedOrFreedRegionIsRefusedWithoutReadingIt() {
        try (MemAlloc uncached = MemAlloc.builder().regionSize(64 * 1024).cachedRegions(0).build()) {
            MemorySegment block = uncached.allocate(64, 16);
            long address = block.address();
            uncached.free(block); // the region is unmapped now: reading it would crash the JVM

            assertThatThrownBy(() -> uncached.free(MemorySegment.ofAddress(address)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> uncached.free(MemorySegment.ofAddress(0x1000)))
                    .isInstanceOf(IllegalArgumentException.class);
            uncached.verifyHeap();
        }
    }
}
