package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several threads at once, each filling its blocks with its own byte and checking them before it frees them, and
 * handing some blocks to the other threads to free. A block handed out twice, or memory shared by two blocks,
 * breaks a pattern. The work is a fixed number of operations per thread; the time limit only guards a hang.
 */
@Timeout(120) // guards a hang only
class ConcurrencyTest {
    private static final int THREADS = 4;
    private static final int OPERATIONS = 20_000;

    /** A block, the byte it holds. */
    private record Filled(MemorySegment segment, int value) {}

    @Test
    void threadsAllocateAndFreeEachOthersBlocks() throws Exception {
        // No cached regions and small regions: regions are mapped and unmapped all the time, while other threads
        // free into them.
        try (MemAlloc alloc = MemAlloc.builder().stripes(2).regionSize(64 * 1024).cachedRegions(0).build()) {
            ConcurrentLinkedQueue<Filled> handedOver = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            AtomicInteger freedForOthers = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int value = t + 1;
                    futures.add(pool.submit(() -> {
                        start.await();
                        work(alloc, value, handedOver, freedForOthers);
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> future : futures) {
                    future.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
                assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
            }
            for (Filled block : handedOver) {
                assertThat(Contents.firstMismatch(block.segment(), block.value())).isEqualTo(-1);
                alloc.free(block.segment());
            }
            assertThat(freedForOthers.get()).isPositive();
            // The workers have ended, and the blocks other threads freed into their pages waited for them: the
            // pages go back once MemAlloc finds them ended.
            EndedThreads.awaitRegionsGivenBack(alloc);
            alloc.verifyHeap();
            AllocatorStats stats = alloc.stats();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.allocatedBytes()).isZero();
            assertThat(stats.allocationCount()).isEqualTo((long) THREADS * OPERATIONS);
            assertThat(stats.regionCount()).isZero();
            assertThat(stats.mappedBytes()).isZero();
        }
    }

    private static void work(MemAlloc alloc, int value, ConcurrentLinkedQueue<Filled> handedOver,
                             AtomicInteger freedForOthers) {
        Random random = new Random(value);
        List<Filled> mine = new ArrayList<>();
        for (int op = 0; op < OPERATIONS; op++) {
            long size = random.nextInt(8) == 0 ? random.nextInt(40_000) : random.nextInt(512);
            MemorySegment segment = alloc.allocate(size, random.nextInt(8) == 0 ? 256 : 16);
            assertThat(Contents.firstMismatch(segment, 0)).isEqualTo(-1);
            Contents.fill(segment, value);
            Filled block = new Filled(segment, value);
            if (random.nextInt(4) == 0) {
                handedOver.add(block);
            } else {
                mine.add(block);
            }
            if (mine.size() > 64) {
                freeChecked(alloc, mine.remove(random.nextInt(mine.size())));
            }
            Filled other = random.nextBoolean() ? handedOver.poll() : null;
            if (other != null) {
                freeChecked(alloc, other);
                freedForOthers.incrementAndGet();
            }
        }
        for (Filled block : mine) {
            freeChecked(alloc, block);
        }
    }

    private static void freeChecked(MemAlloc alloc, Filled block) {
        assertThat(Contents.firstMismatch(block.segment(), block.value()))
                .as("block at 0x%x", block.segment().address()).isEqualTo(-1);
        alloc.free(block.segment());
    }

    @Test
    void twoThreadsFreeingTheSameBlockFreeItOnce() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 200; round++) {
                    MemorySegment block = alloc.allocate(round % 2 == 0 ? 100 : 100_000, 16);
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<Boolean>> frees = new ArrayList<>();
                    for (int t = 0; t < 2; t++) {
                        frees.add(pool.submit(() -> {
                            start.await();
                            try {
                                alloc.free(block);
                                return true;
                            } catch (IllegalArgumentException e) {
                                return false;
                            }
                        }));
                    }
                    start.countDown();
                    int succeeded = 0;
                    for (Future<Boolean> free : frees) {
                        succeeded += free.get(10, TimeUnit.SECONDS) ? 1 : 0;
                    }
                    assertThat(succeeded).as("round %d", round).isEqualTo(1);
                }
            } finally {
                pool.shutdownNow();
            }
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }
}
