package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Freed large mappings kept for reuse: taken only by requests that need not be zeroed, bounded, given back. */
class SpareMappingsTest {
    private static final long REGION = 1 << 20;
    private static final long MIB = 1 << 20;
    private static final MemorySegment MEMORY = AddressSpace.all();

    private static Heap heap(int spares, long maxMapped) {
        return new Heap(OsMemory.system(), new HeapConfig("test", REGION, 1, maxMapped, 0, false, spares, false, false));
    }

    @Test
    void aFreedLargeMappingServesTheNextUninitializedRequestOfAboutItsSizeWithoutASystemCall() {
        Heap heap = heap(2, Long.MAX_VALUE);
        try {
            long first = heap.allocate(4 * MIB, 16, false);
            heap.free(first);
            long maps = heap.stats().mapCount();

            long again = heap.allocate(3 * MIB, 16, false);

            assertThat(again).isEqualTo(first);
            assertThat(heap.stats().mapCount()).isEqualTo(maps);
            assertThat(heap.stats().unmapCount()).isZero();
            assertThat(heap.stats().largeBlockCount()).isEqualTo(1);
            heap.verify();
            heap.free(again);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    @Test
    void aZeroedRequestNeverGetsASparesOldBytes() {
        Heap heap = heap(2, Long.MAX_VALUE);
        try {
            long first = heap.allocate(2 * MIB, 16, false);
            MEMORY.asSlice(first, 2 * MIB).fill((byte) 0x7F);
            heap.free(first);

            long zeroed = heap.allocate(2 * MIB, 16, true);

            for (long i = 0; i < 2 * MIB; i += 4093) {
                assertThat(MEMORY.get(ValueLayout.JAVA_BYTE, zeroed + i)).as("byte %d", i).isZero();
            }
            heap.free(zeroed);
        } finally {
            heap.close();
        }
    }

    @Test
    void sparesBeyondTheBoundAreUnmappedOldestFirstAndTrimUnmapsTheRest() {
        Heap heap = heap(2, Long.MAX_VALUE);
        try {
            long a = heap.allocate(2 * MIB, 16, false);
            long b = heap.allocate(3 * MIB, 16, false);
            long c = heap.allocate(4 * MIB, 16, false);
            heap.free(a);
            heap.free(b);
            heap.free(c);

            assertThat(heap.stats().unmapCount()).isEqualTo(1);
            assertThat(heap.stats().mappedBytes()).isEqualTo(7 * MIB);
            assertThat(heap.allocate(2 * MIB, 16, false)).as("a, the oldest, went; b fits").isEqualTo(b);
            heap.verify();

            heap.trim();
            assertThat(heap.stats().mappedBytes()).as("only b's mapping, in use again").isEqualTo(3 * MIB);
        } finally {
            heap.close();
        }
    }

    @Test
    void sparesGiveWayBeforeTheMappingCapRefusesARequest() {
        Heap heap = heap(2, 5 * MIB);
        try {
            heap.free(heap.allocate(4 * MIB, 16, false));
            assertThat(heap.stats().mappedBytes()).isEqualTo(4 * MIB);

            long zeroed = heap.allocate(4 * MIB, 16, true); // may not take the spare, and both do not fit

            assertThat(zeroed).isNotZero();
            assertThat(heap.stats().mappedBytes()).isEqualTo(4 * MIB);
            heap.verify();
        } finally {
            heap.close();
        }
    }
}
