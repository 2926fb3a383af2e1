package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a private allocator keeps mapped for threads that come and go (issue 13): not a timing (the score is the
 * run's wall time), the figures are the counters below.
 *
 * <p>One run, on a fresh {@code MemAlloc.builder().build()}: {@value #THREADS} threads at once, half of them virtual,
 * each keeps up to {@value #LIVE} blocks of log-uniform random sizes from 16 B to 200 KB, replacing a random one
 * {@value #STEPS} times, then frees all of its blocks and ends. A sampler reads {@code stats().mappedBytes()} every
 * millisecond while they run. Once the last thread has ended, the run waits one second, without {@code trim()}, and
 * reads it once more.
 * <ul>
 *   <li>{@code peakMappedOverPeakLive}: the largest mapped bytes sampled / the largest live bytes (asked for)
 *       sampled at the same moments (target: at most 1.25).</li>
 *   <li>{@code mappedMiBAfterOneSecond}: MiB still mapped one second after the last thread ended (target: at most
 *       32).</li>
 * </ul>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@State(Scope.Thread)
public class ThreadsFootprint {
    static final int THREADS = 16;
    static final int LIVE = 200;
    static final int STEPS = 20_000;
    private static final double MIN_LOG = Math.log(16);
    private static final double MAX_LOG = Math.log(200_000);

    /** The figures, summed by JMH over iterations and forks: each run adds its share of the mean. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Figures {
        public double peakMappedOverPeakLive;
        public double mappedMiBAfterOneSecond;
        private double share = 1;

        @Setup(Level.Trial)
        public void share(org.openjdk.jmh.infra.BenchmarkParams params) {
            share = 1.0 / Math.max(1, params.getMeasurement().getCount() * Math.max(1, params.getForks()));
        }
    }

    @Benchmark
    public void memAlloc(Figures figures) throws InterruptedException {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            AtomicLong live = new AtomicLong();
            AtomicBoolean running = new AtomicBoolean(true);
            long[] peaks = new long[2]; // mapped, live: written by the sampler only
            Thread sampler = Thread.ofPlatform().start(() -> {
                while (running.get()) {
                    peaks[0] = Math.max(peaks[0], alloc.stats().mappedBytes());
                    peaks[1] = Math.max(peaks[1], live.get());
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int seed = t;
                Runnable work = () -> work(alloc, live, new SplittableRandom(seed));
                threads.add(t % 2 == 0 ? Thread.ofVirtual().start(work) : Thread.ofPlatform().start(work));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            running.set(false);
            sampler.join();
            Thread.sleep(1_000);
            double ratio = (double) peaks[0] / Math.max(1, peaks[1]);
            double after = alloc.stats().mappedBytes() / (1024.0 * 1024.0);
            figures.peakMappedOverPeakLive += ratio * figures.share;
            figures.mappedMiBAfterOneSecond += after * figures.share;
            System.out.printf("ThreadsFootprint: peak mapped / peak live %.3f, %.1f MiB mapped 1 s after the last"
                    + " thread ended%n", ratio, after);
        }
    }

    private static void work(MemAlloc alloc, AtomicLong live, SplittableRandom random) {
        MemorySegment[] blocks = new MemorySegment[LIVE];
        for (int step = 0; step < STEPS; step++) {
            int slot = random.nextInt(LIVE);
            if (blocks[slot] != null) {
                live.addAndGet(-blocks[slot].byteSize());
                alloc.free(blocks[slot]);
            }
            long size = (long) Math.exp(MIN_LOG + random.nextDouble() * (MAX_LOG - MIN_LOG));
            blocks[slot] = alloc.allocateUninitialized(size, 16);
            live.addAndGet(size);
        }
        for (MemorySegment block : blocks) {
            if (block != null) {
                live.addAndGet(-block.byteSize());
                alloc.free(block);
            }
        }
    }
}
