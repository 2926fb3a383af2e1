package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;

/**
 * Waits for the pages of threads that have ended to go back. A pool's {@code awaitTermination} returns a moment
 * before its threads are dead to {@link Thread#isAlive}, and only then can their pages be taken: MemAlloc's reaper
 * looks every 100 ms, and each {@code trim()} looks too.
 */
final class EndedThreads {
    private EndedThreads() {
    }

    /** Trims until {@code alloc} maps no region, for at most 5 seconds; fails if it still maps one then. */
    static void awaitRegionsGivenBack(MemAlloc alloc) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (alloc.trim() >= 0 && alloc.stats().regionCount() > 0 && System.nanoTime() - deadline < 0) {
            Thread.sleep(20);
        }
        assertThat(alloc.stats().regionCount()).as("regions left once the threads that used them ended").isZero();
    }
}
