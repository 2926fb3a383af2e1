package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.OsMemory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** At the mapping cap, a busy stripe is waited for rather than skipped; a closed heap refuses maintenance. */
@Timeout(60) // guards a hang only: every wait below has its own bound
class HeapCapTest {
    private static final long REGION = 64 * 1024;
    /** Above the small blocks' 1 KiB: a block of a stripe. */
    private static final long MEDIUM = 2000;

    @Test
    void atTheCapARequestWaitsForABusyStripeThatHoldsRoomInsteadOfFailing() throws Exception {
        Heap heap = new Heap(OsMemory.system(), new HeapConfig("test", REGION, 2, REGION, 0, 0, false, false));
        try {
            long first = heap.allocate(MEDIUM, 16, true);
            Stripe busy = heap.table().find(first).stripe;
            // A thread whose own stripe is the other one, so that it can only find room by waiting.
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<Long> result = new CompletableFuture<>();
            Thread requester = null;
            for (int tries = 0; tries < 64 && requester == null; tries++) {
                AtomicInteger home = new AtomicInteger();
                CountDownLatch homeKnown = new CountDownLatch(1);
                Thread t = new Thread(() -> {
                    home.set(heap.homeStripe());
                    homeKnown.countDown();
                    if (home.get() == busy.index) {
                        return;
                    }
                    try {
                        go.await();
                        result.complete(heap.allocate(MEDIUM, 16, true));
                    } catch (Throwable e) {
                        result.completeExceptionally(e);
                    }
                });
                t.start();
                homeKnown.await();
                if (home.get() != busy.index) {
                    requester = t;
                } else {
                    t.join();
                }
            }
            assertThat(requester).as("a thread homed on the other stripe").isNotNull();

            busy.lock.lock();
            try {
                go.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!busy.lock.hasQueuedThread(requester) && !result.isDone()
                        && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertThat(result.isDone()).as("the requester waits for the busy stripe").isFalse();
            } finally {
                busy.lock.unlock();
            }
            long second = result.get(10, TimeUnit.SECONDS);

            assertThat(heap.table().find(second)).isSameAs(heap.table().find(first));
            assertThat(heap.stats().mappedBytes()).isEqualTo(REGION);
            heap.free(first);
            heap.free(second);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    @Test
    void aClosedHeapRefusesTrimAndVerify() {
        Heap heap = new Heap(OsMemory.system(), new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 1, 0, false, false));
        long block = heap.allocate(10_000, 16, true);
        heap.free(block);
        heap.close();

        assertThatThrownBy(heap::trim).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(heap.stats().mappedBytes()).isZero();
        assertThat(heap.stats().allocatedBytes()).isZero();
    }
}
