package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A heap with thread caches, as the global one: a block freed into a cache keeps every guarantee of a block freed
 * to a stripe (double frees refused from any thread, zeroed when asked, counted), and caches give their blocks back
 * when their thread dies or is asked to.
 */
@Timeout(60) // guards a hang only
class ThreadCacheTest {
    private static final MemorySegment MEMORY = AddressSpace.all();
    private Heap heap;

    @BeforeEach
    void openHeap() {
        heap = new Heap(OsMemory.system(),
                new HeapConfig("test", HeapConfig.DEFAULT_REGION_SIZE, 2, Long.MAX_VALUE, 0, true, 0, false, false));
    }

    /** A heap with thread caches never closes: give back what the test left, and check it is whole. */
    @AfterEach
    void trimHeap() {
        heap.verify();
        heap.trim();
    }

    @Test
    void aHeapWithThreadCachesRefusesToClose() {
        assertThatThrownBy(() -> heap.close()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("never closed");
        heap.free(heap.allocate(64, 16, true));
    }

    @Test
    void theCacheOfAThreadThatDiedGoesBackWhenAnotherThreadComesWithoutATrim() throws Exception {
        runToTheEnd(() -> allocateAndFree64ByteBlocks(200));
        long mapped = heap.stats().mappedBytes();
        assertThat(mapped).isPositive();

        runToTheEnd(() -> heap.free(heap.allocate(5_000, 16, true))); // a new thread: makes its own cache

        HeapStats stats = heap.stats();
        assertThat(stats.allocatedBytes()).isZero();
        assertThat(stats.freeCount()).isEqualTo(201);
        assertThat(stats.unmapCount()).as("the dead thread's region went back: no block of it stayed cached")
                .isPositive();
    }

    @Test
    void aFreedSmallBlockIsHandedOutAgainFromTheCacheAndCountedOnce() {
        long first = heap.allocate(64, 16, true);
        heap.free(first);
        long again = heap.allocate(60, 16, true);

        assertThat(again).isEqualTo(first);
        HeapStats stats = heap.stats();
        assertThat(stats.allocatedBytes()).isEqualTo(60);
        assertThat(stats.allocationCount()).isEqualTo(2);
        assertThat(stats.freeCount()).isEqualTo(1);
        heap.verify();
    }

    @Test
    void aDoubleFreeIsRefusedWhileTheBlockWaitsInTheCacheFromThisThreadOrAnother() throws Exception {
        long block = heap.allocate(64, 16, true);
        heap.free(block);

        assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalArgumentException.class);
        CompletableFuture<Throwable> other = CompletableFuture.supplyAsync(() -> {
            try {
                heap.free(block);
                return null;
            } catch (IllegalArgumentException e) {
                return e;
            }
        }, runnable -> new Thread(runnable).start());
        assertThat(other.get(10, TimeUnit.SECONDS)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> heap.reallocate(block, 128)).isInstanceOf(IllegalArgumentException.class);

        assertThat(heap.allocate(64, 16, true)).isEqualTo(block); // handed out once, not twice
        assertThat(heap.stats().allocatedBytes()).isEqualTo(64);
        heap.verify();
    }

    @Test
    void anInteriorAddressOfACachedBlockIsRefused() {
        long block = heap.allocate(200, 16, true);
        heap.free(block);

        assertThatThrownBy(() -> heap.free(block + 16)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> heap.free(block + 32)).isInstanceOf(IllegalArgumentException.class);
        heap.verify();
    }

    @Test
    void aCachedBlockIsZeroedWhenHandedOutForAZeroedRequest() {
        long block = heap.allocate(100, 16, true);
        MEMORY.asSlice(block, 100).fill((byte) 0x5A);
        heap.free(block);

        long again = heap.allocate(100, 16, true);

        assertThat(again).isEqualTo(block);
        for (long i = 0; i < 100; i++) {
            assertThat(MEMORY.get(ValueLayout.JAVA_BYTE, again + i)).as("byte %d", i).isZero();
        }
    }

    @Test
    void aReallocateOfABlockFromTheCacheKeepsItsContentAndZeroesTheGrowth() {
        long block = heap.allocate(48, 16, true);
        heap.free(block);
        long again = heap.allocate(40, 16, true);
        MEMORY.asSlice(again, 40).fill((byte) 7);

        long grown = heap.reallocate(again, 4000);

        for (long i = 0; i < 4000; i++) {
            assertThat(MEMORY.get(ValueLayout.JAVA_BYTE, grown + i)).as("byte %d", i).isEqualTo((byte) (i < 40 ? 7 : 0));
        }
        heap.free(grown);
        assertThat(heap.stats().allocatedBytes()).isZero();
        heap.verify();
    }

    @Test
    void blocksFreedByAnotherThreadGoToItsCacheAndEveryCountAgrees() throws Exception {
        SplittableRandom random = new SplittableRandom(7);
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            blocks.add(heap.allocate(1 + random.nextInt(1_500), 16, true));
        }
        runToTheEnd(() -> blocks.forEach(heap::free));

        HeapStats stats = heap.stats();
        assertThat(stats.allocatedBytes()).isZero();
        assertThat(stats.allocationCount()).isEqualTo(5_000);
        assertThat(stats.freeCount()).isEqualTo(5_000);
        heap.verify();
    }

    @Test
    void twoThreadsFreeingEachOthersBlocksKeepTheHeapConsistent() throws Exception {
        int rounds = 20_000;
        long[] shared = new long[64];
        Object lock = new Object();
        AtomicLong failures = new AtomicLong();
        Runnable worker = () -> {
            SplittableRandom random = new SplittableRandom(Thread.currentThread().threadId());
            for (int i = 0; i < rounds; i++) {
                long fresh = heap.allocate(1 + random.nextInt(1_000), 16, random.nextBoolean());
                long old;
                synchronized (lock) {
                    int slot = random.nextInt(shared.length);
                    old = shared[slot];
                    shared[slot] = fresh;
                }
                if (old != 0) {
                    try {
                        heap.free(old);
                    } catch (RuntimeException e) {
                        failures.incrementAndGet();
                    }
                }
            }
        };
        Thread a = new Thread(worker);
        Thread b = new Thread(worker);
        a.start();
        b.start();
        a.join(TimeUnit.SECONDS.toMillis(30));
        b.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(a.isAlive() || b.isAlive()).isFalse();

        assertThat(failures.get()).isZero();
        long live = 0;
        for (long block : shared) {
            if (block != 0) {
                live++;
                heap.free(block);
            }
        }
        HeapStats stats = heap.stats();
        assertThat(stats.allocationCount()).isEqualTo(2L * rounds);
        assertThat(stats.freeCount()).isEqualTo(2L * rounds);
        assertThat(live).isPositive();
        assertThat(stats.allocatedBytes()).isZero();
        heap.verify();
    }

    /**
     * A larson-like load: each thread replaces random blocks in slots of its own, and one replacement in 16 in the
     * other thread's slots, so blocks are freed into the other thread's cache while their neighbours come and go.
     * A thread cache that rewrote a whole header word without the stripe's lock lost the PREV_IN_USE bit that the
     * stripe had just flipped, and the heap fell apart within a second.
     */
    @Test
    void cachesHandingOutBlocksWhoseNeighboursTheStripesFreeKeepEveryHeaderIntact() throws Exception {
        int slots = 1_000;
        AtomicLongArray[] owned = {new AtomicLongArray(slots), new AtomicLongArray(slots)};
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        AtomicLong failures = new AtomicLong();
        Thread[] threads = new Thread[2];
        for (int t = 0; t < 2; t++) {
            int self = t;
            threads[t] = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(self);
                while (System.nanoTime() < deadline) {
                    for (int i = 0; i < 1_000; i++) {
                        long fresh = heap.allocate(8 + random.nextInt(993), 16, false);
                        AtomicLongArray slotsOf = owned[random.nextInt(16) == 0 ? 1 - self : self];
                        long old = slotsOf.getAndSet(random.nextInt(slots), fresh);
                        if (old != 0) {
                            try {
                                heap.free(old);
                            } catch (RuntimeException e) {
                                failures.incrementAndGet();
                            }
                        }
                    }
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thread.isAlive()).isFalse();
        }

        assertThat(failures.get()).isZero();
        heap.verify();
        for (AtomicLongArray slotsOf : owned) {
            for (int i = 0; i < slots; i++) {
                if (slotsOf.get(i) != 0) {
                    heap.free(slotsOf.get(i));
                }
            }
        }
        heap.verify();
        assertThat(heap.stats().allocatedBytes()).isZero();
    }

    /**
     * Blocks of cached sizes and bigger ones mixed, as in the footprint workload: the bins then hold blocks refilled
     * from many regions, which must not keep those regions mapped once their last user block is freed.
     */
    @Test
    void aThreadThatFreedEverythingKeepsAtMostOneRegionMappedForItsCache() {
        SplittableRandom random = new SplittableRandom(11);
        long[] blocks = new long[50_000];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(16 + random.nextInt(random.nextBoolean() ? 1_000 : 8_000), 16, true);
        }
        for (int i = 0; i < 200_000; i++) { // replacements mix the regions each bin refills from
            int k = random.nextInt(blocks.length);
            heap.free(blocks[k]);
            blocks[k] = heap.allocate(16 + random.nextInt(random.nextBoolean() ? 1_000 : 8_000), 16, true);
        }
        assertThat(heap.stats().regionCount()).isGreaterThan(3);
        for (int i = blocks.length - 1; i > 0; i--) { // free in random order, so blocks of every region get cached
            int j = random.nextInt(i + 1);
            long swap = blocks[i];
            blocks[i] = blocks[j];
            blocks[j] = swap;
        }
        for (long block : blocks) {
            heap.free(block);
        }

        HeapStats stats = heap.stats();
        assertThat(stats.allocatedBytes()).isZero();
        assertThat(stats.regionCount()).as("regions still mapped, without trim").isLessThanOrEqualTo(1);
        heap.verify();
    }

    @Test
    void theCacheOfAThreadThatDiedGoesBackToTheHeapOnTrim() throws Exception {
        runToTheEnd(() -> allocateAndFree64ByteBlocks(200));
        long mapped = heap.stats().mappedBytes();
        assertThat(mapped).isPositive();

        long given = heap.trim();

        HeapStats stats = heap.stats();
        assertThat(stats.mappedBytes()).as("every region unmapped: no block stranded in the dead thread's cache")
                .isZero();
        assertThat(given).as("what trim says it gave back").isEqualTo(mapped);
        assertThat(stats.allocatedBytes()).isZero();
        assertThat(stats.allocationCount()).isEqualTo(200);
        assertThat(stats.freeCount()).isEqualTo(200);
    }

    @Test
    void aLiveThreadGivesItsCacheBackAtItsNextCallAfterATrimAsksForIt() throws Exception {
        CountDownLatch cached = new CountDownLatch(1);
        CountDownLatch trimmed = new CountDownLatch(1);
        CountDownLatch called = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread user = new Thread(() -> {
            allocateAndFree64ByteBlocks(100);
            cached.countDown();
            try {
                if (trimmed.await(30, TimeUnit.SECONDS)) {
                    heap.free(heap.allocate(5_000, 16, true)); // not a cached size: the free checks the request
                }
                called.countDown();
                done.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        user.start();
        try {
            assertThat(cached.await(30, TimeUnit.SECONDS)).isTrue();
            heap.trim();
            assertThat(heap.stats().mappedBytes()).as("the live thread still holds its cache").isPositive();
            trimmed.countDown();
            assertThat(called.await(30, TimeUnit.SECONDS)).isTrue();

            heap.trim();

            assertThat(user.isAlive()).isTrue();
            assertThat(heap.stats().mappedBytes()).isZero();
            assertThat(heap.stats().allocatedBytes()).isZero();
        } finally {
            done.countDown();
            user.join(TimeUnit.SECONDS.toMillis(30));
        }
    }

    @Test
    void aVirtualThreadHasNoCacheAndItsBlocksGoStraightBack() throws Exception {
        Thread virtual = Thread.ofVirtual().start(() -> heap.free(heap.allocate(64, 16, true)));
        virtual.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(virtual.isAlive()).isFalse();

        HeapStats stats = heap.stats();
        assertThat(stats.allocatedBytes()).isZero();
        assertThat(stats.freeCount()).isEqualTo(1);
        heap.trim();
        assertThat(heap.stats().mappedBytes()).isZero();
    }

    /** Runs {@code work} in a new platform thread and waits until that thread has died. */
    @Test
    void aFreeIntoAStripeAnotherThreadHoldsIsLeftToTheHolderWithoutWaitingAndStillRefusesASecondFree()
            throws Exception {
        long block = heap.allocate(2_000, 16, true); // above what caches keep: its free goes to its stripe
        MEMORY.asSlice(block, 2_000).fill((byte) 0x5A);
        Stripe stripe = heap.table().find(block).stripe;
        HeapStats before = heap.stats();

        stripe.lock.lock();
        try {
            CompletableFuture.runAsync(() -> heap.free(block)).get(10, TimeUnit.SECONDS); // returns: no wait

            assertThat(stripe.hasDeferred()).as("left on the stripe's deferred list").isTrue();
            assertThatThrownBy(() -> heap.free(block)).as("a second free, while deferred")
                    .isInstanceOf(IllegalArgumentException.class);
        } finally {
            stripe.lock.unlock();
        }
        HeapStats after = heap.stats(); // takes the lock: frees what waits

        assertThat(stripe.hasDeferred()).isFalse();
        assertThat(after.freeCount()).isEqualTo(before.freeCount() + 1);
        assertThat(after.allocatedBytes()).isEqualTo(before.allocatedBytes() - 2_000);
        assertThatThrownBy(() -> heap.free(block)).as("a second free, once freed")
                .isInstanceOf(IllegalArgumentException.class);
        long again = heap.allocate(2_000, 16, true);
        for (long offset = 0; offset < 2_000; offset += 8) {
            assertThat(MEMORY.get(ValueLayout.JAVA_LONG, again + offset)).as("offset %d", offset).isZero();
        }
        heap.free(again);
    }

    @Test
    void blocksDeferredToAStripeAreFreedByItsNextHolderAllocatingThere() throws Exception {
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            blocks.add(heap.allocate(2_000, 16, false));
        }
        Stripe stripe = heap.table().find(blocks.get(0)).stripe;
        long allocatedBefore = heap.stats().allocatedBytes();
        stripe.lock.lock();
        try {
            CompletableFuture.runAsync(() -> blocks.forEach(heap::free)).get(10, TimeUnit.SECONDS);
        } finally {
            stripe.lock.unlock();
        }
        assertThat(stripe.hasDeferred()).isTrue();

        long next = heap.allocate(3_000, 16, false); // this thread's home stripe is theirs: it frees them first

        assertThat(stripe.hasDeferred()).isFalse();
        assertThat(heap.stats().allocatedBytes()).isEqualTo(allocatedBefore - 50 * 2_000 + 3_000);
        heap.free(next);
    }

    private static void runToTheEnd(Runnable work) throws InterruptedException {
        Thread thread = new Thread(work);
        thread.start();
        thread.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(thread.isAlive()).isFalse();
    }

    /** Allocates {@code n} blocks of 64 B, then frees them all: they end up in the calling thread's cache. */
    private void allocateAndFree64ByteBlocks(int n) {
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            blocks.add(heap.allocate(64, 16, true));
        }
        blocks.forEach(heap::free);
    }
}
