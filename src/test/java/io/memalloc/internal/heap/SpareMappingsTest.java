package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Freed large mappings kept for reuse: taken only by requests that need not be zeroed, bounded, given back. */
class SpareMappingsTest {
    private static final long REGION = 1 << 20;
    private static final long MIB = 1 << 20;
    private static final MemorySegment MEMORY = AddressSpace.all();

    private static Heap heap(int spares, long maxMapped) {
        return new Heap(OsMemory.system(), new HeapConfig("test", REGION, 1, maxMapped, 0, spares, false, false));
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

    @Test
    void fromOneMebibyteABlockHasAMappingOfItsOwnWhateverTheRegionSize() {
        Heap heap = new Heap(OsMemory.system(), new HeapConfig("test", 16 * MIB, 1, Long.MAX_VALUE, 0, 2,
                false, false));
        try {
            long belowTheLine = heap.allocate(MIB - 64, 16, false);
            assertThat(heap.stats().largeBlockCount()).isZero();
            long mebibyte = heap.allocate(MIB, 16, false);
            assertThat(heap.stats().largeBlockCount()).isEqualTo(1);
            assertThat(heap.table().find(mebibyte)).isNull();
            heap.free(mebibyte);
            heap.free(belowTheLine);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    @Test
    void threadsKeepingAndTakingSparesAtOnceNeverShareOneAndLeaveTheBoundsHeld() throws Exception {
        int threads = 4;
        int spares = 2;
        RecordingOsMemory os = new RecordingOsMemory();
        Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 0, spares, false, false));
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                done.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    start.await();
                    for (int i = 0; i < 2_000; i++) {
                        long size = MIB * (1 + random.nextInt(4));
                        long block = heap.allocate(size, 16, false);
                        // A spare two threads took at once would have the other's mark here.
                        MEMORY.set(ValueLayout.JAVA_LONG, block, seed);
                        MEMORY.set(ValueLayout.JAVA_LONG, block + size - 8, seed);
                        Thread.onSpinWait();
                        assertThat(MEMORY.get(ValueLayout.JAVA_LONG, block)).isEqualTo(seed);
                        assertThat(MEMORY.get(ValueLayout.JAVA_LONG, block + size - 8)).isEqualTo(seed);
                        heap.free(block);
                    }
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get(60, TimeUnit.SECONDS);
            }

            assertThat(heap.stats().largeBlockCount()).isZero();
            assertThat(heap.spares().bytes()).as("at most %d spares of at most 4 MiB", spares)
                    .isLessThanOrEqualTo(4 * MIB * spares);
            assertThat(os.live.values().stream().mapToLong(Long::longValue).sum())
                    .as("what the OS holds mapped").isEqualTo(heap.stats().mappedBytes());
            heap.verify();
            heap.trim();
            assertThat(os.live).as("mappings left after trim").isEmpty();
        } finally {
            pool.shutdownNow();
            heap.close();
        }
    }

    @Test
    void aFreeRacingCloseLeavesNoSpareMapped() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            for (int round = 0; round < 200; round++) {
                RecordingOsMemory os = new RecordingOsMemory();
                Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 0, 2, false, false));
                long block = heap.allocate(2 * MIB, 16, false);
                CyclicBarrier start = new CyclicBarrier(2);
                Future<?> free = pool.submit(() -> {
                    start.await();
                    try {
                        heap.free(block);
                    } catch (IllegalStateException closedFirst) {
                        assertThat(closedFirst).hasMessageContaining("closed");
                    }
                    return null;
                });
                start.await();
                heap.close();
                free.get(10, TimeUnit.SECONDS);

                assertThat(os.live).as("round %d: mapped after close and the free", round).isEmpty();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
