package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * How much memory an allocator holds for what it has handed out, and how much of it goes back to the OS once
 * everything is freed: one run in a JVM of its own per allocator, not a timing (the score is the run's wall time,
 * waits included; the figures are the counters below).
 *
 * <p>One run: fill {@code footprintLiveBlocks} slots with blocks of log-uniform random sizes from 16 B to 64 KiB
 * (mean about 7.7 KiB), then {@code footprintReplacements} times free the block of a random slot and allocate a new
 * one of a new random size there. Every page of every block is written once as it is allocated (one byte per 4 KiB),
 * as a program writes what it allocates: untouched pages would cost nothing anywhere. Then free every block, poll
 * the RSS every 50 ms for up to 1 s (until it is back to the baseline), and call the allocator's trim:
 * {@code MemAlloc.trim()}, glibc's {@code malloc_trim(0)}, jemalloc's {@code mallctl("arena.4096.purge")},
 * mimalloc's {@code mi_collect(true)} (see {@link NativeHeap#trim()}). MemAlloc allocates with
 * {@code allocateUninitialized(size, 16)}, the counterpart of {@code malloc}.
 *
 * <p>RSS is {@code VmRSS} from {@code /proc/self/status}, so it counts the whole JVM: the baseline is read just
 * before the fill, after a small run of the same work (which warms the JIT and the allocator), a free of all of it,
 * a trim and a {@code System.gc()}. So that the Java heap does not move the RSS, the fork runs with
 * {@code -Xms256m -XX:+AlwaysPreTouch} (prepended: JMH would drop a {@code jvmArgsAppend} of this annotation for
 * {@link Bench}'s own), every array is allocated before the baseline, and nothing on the Java heap is allocated per
 * block except the segment MemAlloc returns. The RSS is sampled after the fill and 100 times during the
 * replacements; the peak is the largest sample. What else the JVM allocates meanwhile (the JIT's own memory, for
 * one) counts too: a few MiB, which the default parameters make small, but which weighs on the figures with the
 * small ones of {@code ./bench smoke}.
 *
 * <p>The figures, as JMH secondary results ({@link AuxCounters}, which JMH 1.37 does report in
 * {@code SingleShotTime} mode), and on one line of the run's output. The annotations ask for one fork of one
 * measured iteration and no warmup, but {@link Bench}'s modes set forks and iterations for every benchmark, and
 * their options win: a warmup iteration skips the work, and every measured iteration is a run of its own (after
 * the first, its baseline holds what the allocator kept of the run before, after trim). JMH sums an
 * {@code EVENTS} counter over iterations and forks, so each run adds its figure divided by their number: the
 * table shows the mean, while each iteration's line in the log shows its share, and the line the run prints its
 * own figures.
 * <ul>
 *   <li>{@code rssGrowthOverLive}: peak RSS growth over the baseline / peak live bytes (bytes asked for); 1.0 is
 *       no overhead at all.</li>
 *   <li>{@code mappedOverLive}, MemAlloc only: the largest {@code stats().mappedBytes()} sampled / peak live bytes.</li>
 *   <li>{@code residualAfterFreePercent}: RSS above the baseline after every block is freed (and up to 1 s), as a
 *       percentage of the peak growth.</li>
 *   <li>{@code residualAfterTrimPercent}: the same after the trim.</li>
 * </ul>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsPrepend = {"-Xms256m", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@State(Scope.Thread)
public class Footprint {
    @Param("100000")
    public int footprintLiveBlocks;

    @Param("1000000")
    public int footprintReplacements;

    private static final int MIN_SIZE = 16;
    private static final int MAX_SIZE = 64 * 1024;
    private static final long PAGE = 4096;
    /** RSS samples during the replacements. */
    private static final int SAMPLES = 100;
    /** How long the RSS is polled after everything is freed, and how often. */
    private static final long POLL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long POLL_MILLIS = 50;

    /** The fill's sizes, then the replacements'. */
    private int[] sizes;
    /** The slot of each replacement. */
    private int[] victims;
    /** The size of the block in each slot now. */
    private int[] slotSizes;
    private String method;
    private Blocks blocks;
    private Rss rss;
    private long baselineKb;
    /** Whether this iteration is measured: a warmup iteration (when a mode asks for some) does not run. */
    private boolean measured;
    /** Measured runs in the whole benchmark: forks x iterations. */
    private int runs;

    /** The figures common to every allocator. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Figures {
        public double rssGrowthOverLive;
        public double residualAfterFreePercent;
        public double residualAfterTrimPercent;
    }

    /** MemAlloc's own figure. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Mapped {
        public double mappedOverLive;
    }

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) throws IOException {
        method = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
        runs = Math.max(1, params.getForks()) * params.getMeasurement().getCount();
        int live = footprintLiveBlocks;
        int replacements = footprintReplacements;
        SplittableRandom random = new SplittableRandom(42);
        sizes = new int[live + replacements];
        double logMin = Math.log(MIN_SIZE);
        double logRange = Math.log(MAX_SIZE) - logMin;
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = (int) Math.min(MAX_SIZE, Math.round(Math.exp(logMin + random.nextDouble() * logRange)));
        }
        victims = new int[replacements];
        for (int i = 0; i < replacements; i++) {
            victims[i] = random.nextInt(live);
        }
        slotSizes = new int[live];
        blocks = method.equals("memAlloc")
                ? new MemAllocBlocks(live)
                : new NativeBlocks(NativeHeap.plain(NativeHeap.Library.valueOf(method.toUpperCase(Locale.ROOT))),
                        live);
        rss = new Rss();
    }

    /**
     * A small run of the same work (1% of it: a bigger one would leave what the allocator keeps of it in the
     * baseline), everything freed and trimmed, a GC: then the baseline.
     */
    @Setup(Level.Iteration)
    public void warmAndBaseline(IterationParams iteration) throws InterruptedException {
        measured = iteration.getType() == IterationType.MEASUREMENT;
        if (!measured) {
            return;
        }
        int live = Math.max(1, footprintLiveBlocks / 100);
        for (int i = 0; i < live; i++) {
            blocks.allocate(i, sizes[i]);
        }
        for (int i = 0, n = footprintReplacements / 100; i < n; i++) {
            int slot = victims[i] % live;
            blocks.free(slot);
            blocks.allocate(slot, sizes[live + i]);
        }
        for (int i = 0; i < live; i++) {
            blocks.free(i);
        }
        blocks.trim();
        System.gc();
        Thread.sleep(POLL_MILLIS);
        baselineKb = rss.kb();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        rss.close();
    }

    @Benchmark
    public void memAlloc(Figures figures, Mapped mapped) throws InterruptedException {
        run(figures, mapped);
    }

    @Benchmark
    public void libc(Figures figures) throws InterruptedException {
        run(figures, null);
    }

    @Benchmark
    public void jemalloc(Figures figures) throws InterruptedException {
        run(figures, null);
    }

    @Benchmark
    public void mimalloc(Figures figures) throws InterruptedException {
        run(figures, null);
    }

    private void run(Figures figures, Mapped mapped) throws InterruptedException {
        if (!measured) {
            return;
        }
        int live = footprintLiveBlocks;
        int replacements = footprintReplacements;
        long liveBytes = 0;
        for (int i = 0; i < live; i++) {
            blocks.allocate(i, sizes[i]);
            slotSizes[i] = sizes[i];
            liveBytes += sizes[i];
        }
        long peakLive = liveBytes;
        long peakKb = rss.kb();
        long peakMapped = blocks.mappedBytes();
        int sampleEvery = Math.max(1, replacements / SAMPLES);
        for (int i = 0; i < replacements; i++) {
            int slot = victims[i];
            int size = sizes[live + i];
            blocks.free(slot);
            blocks.allocate(slot, size);
            liveBytes += size - slotSizes[slot];
            slotSizes[slot] = size;
            peakLive = Math.max(peakLive, liveBytes);
            if (i % sampleEvery == sampleEvery - 1) {
                peakKb = Math.max(peakKb, rss.kb());
                peakMapped = Math.max(peakMapped, blocks.mappedBytes());
            }
        }

        for (int i = 0; i < live; i++) {
            blocks.free(i);
        }
        long afterFreeKb = rss.kb();
        for (long start = System.nanoTime(); afterFreeKb > baselineKb && System.nanoTime() - start < POLL_NANOS; ) {
            Thread.sleep(POLL_MILLIS);
            afterFreeKb = Math.min(afterFreeKb, rss.kb());
        }
        blocks.trim();
        long afterTrimKb = rss.kb();

        double growthKb = peakKb - baselineKb;
        double rssGrowthOverLive = growthKb * 1024 / peakLive;
        double residualAfterFreePercent = 100 * (afterFreeKb - baselineKb) / growthKb;
        double residualAfterTrimPercent = 100 * (afterTrimKb - baselineKb) / growthKb;
        // JMH sums EVENTS counters over iterations and forks: each run adds its share of the mean.
        figures.rssGrowthOverLive = rssGrowthOverLive / runs;
        figures.residualAfterFreePercent = residualAfterFreePercent / runs;
        figures.residualAfterTrimPercent = residualAfterTrimPercent / runs;
        String mappedText = "";
        if (mapped != null) {
            double mappedOverLive = (double) peakMapped / peakLive;
            mapped.mappedOverLive = mappedOverLive / runs;
            mappedText = String.format(Locale.ROOT, ", mapped %.3f x live", mappedOverLive);
        }
        System.out.printf(Locale.ROOT, "%nfootprint %s: %d live blocks, %d replacements: peak live %.1f MiB, baseline"
                        + " RSS %.1f MiB, peak RSS growth %.1f MiB = %.3f x live%s; after free-all %.1f MiB (%.1f%%),"
                        + " after trim %.1f MiB (%.1f%%)%n",
                method, live, replacements, peakLive / 1048576.0, baselineKb / 1024.0, growthKb / 1024,
                rssGrowthOverLive, mappedText, (afterFreeKb - baselineKb) / 1024.0, residualAfterFreePercent,
                (afterTrimKb - baselineKb) / 1024.0, residualAfterTrimPercent);
    }

    /** The blocks of the run, in one allocator, by slot. */
    private abstract static class Blocks {
        /** Allocates a block for the slot, which is empty, and writes one byte in each of its pages. */
        abstract void allocate(int slot, int size);

        abstract void free(int slot);

        abstract void trim();

        /** What the allocator has mapped now, or 0 when it does not say. */
        long mappedBytes() {
            return 0;
        }
    }

    private static final class MemAllocBlocks extends Blocks {
        private final MemAlloc alloc = MemAlloc.global();
        private final MemorySegment[] segments;

        MemAllocBlocks(int slots) {
            segments = new MemorySegment[slots];
        }

        @Override
        void allocate(int slot, int size) {
            MemorySegment block = alloc.allocateUninitialized(size, 16);
            for (long offset = 0; offset < size; offset += PAGE) {
                block.set(JAVA_BYTE, offset, (byte) 1);
            }
            block.set(JAVA_BYTE, size - 1, (byte) 1);
            segments[slot] = block;
        }

        @Override
        void free(int slot) {
            alloc.free(segments[slot]);
            segments[slot] = null;
        }

        @Override
        void trim() {
            alloc.trim();
        }

        @Override
        long mappedBytes() {
            return alloc.stats().mappedBytes();
        }
    }

    @SuppressWarnings("restricted") // a segment over all memory, to write into blocks known by their address
    private static final class NativeBlocks extends Blocks {
        private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        private final NativeHeap heap;
        private final long[] addresses;

        NativeBlocks(NativeHeap heap, int slots) {
            this.heap = heap;
            addresses = new long[slots];
        }

        @Override
        void allocate(int slot, int size) {
            long block = heap.malloc(size);
            for (long offset = 0; offset < size; offset += PAGE) {
                ALL.set(JAVA_BYTE, block + offset, (byte) 1);
            }
            ALL.set(JAVA_BYTE, block + size - 1, (byte) 1);
            addresses[slot] = block;
        }

        @Override
        void free(int slot) {
            heap.free(addresses[slot]);
            addresses[slot] = 0;
        }

        @Override
        void trim() {
            heap.trim();
        }
    }

    /**
     * Reads {@code VmRSS} from {@code /proc/self/status}, from a file kept open into a buffer allocated once, so
     * that reading it allocates nothing on the Java heap.
     */
    private static final class Rss implements AutoCloseable {
        private static final byte[] KEY = "VmRSS:".getBytes(StandardCharsets.US_ASCII);
        private final FileChannel status = FileChannel.open(Path.of("/proc/self/status"));
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(16 * 1024);

        Rss() throws IOException {}

        /** The resident set size now, in KiB. */
        long kb() {
            buffer.clear();
            try {
                int read; // procfs may hand the file out in pieces: read to its end
                do {
                    read = status.read(buffer, buffer.position());
                } while (read > 0 && buffer.hasRemaining());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            int end = buffer.position();
            for (int i = 0; i + KEY.length < end; i++) {
                if (startsWithKey(i)) {
                    long kb = 0;
                    for (int j = i + KEY.length; j < end && buffer.get(j) != '\n'; j++) {
                        byte b = buffer.get(j);
                        if (b >= '0' && b <= '9') {
                            kb = 10 * kb + (b - '0');
                        }
                    }
                    return kb;
                }
            }
            throw new IllegalStateException("no VmRSS in /proc/self/status");
        }

        private boolean startsWithKey(int at) {
            for (int k = 0; k < KEY.length; k++) {
                if (buffer.get(at + k) != KEY[k]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void close() throws IOException {
            status.close();
        }
    }
}
