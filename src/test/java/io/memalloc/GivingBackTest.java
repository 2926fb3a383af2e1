package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Memory given back reaches the OS: after hundreds of MiB are allocated, touched, freed and trimmed, the
 * process's resident set (VmRSS in /proc/self/status, so Linux only) falls back near where it was.
 */
class GivingBackTest {
    private static final Path STATUS = Path.of("/proc/self/status");
    /**
     * Much more than the JVM's own RSS moves by in a run of the whole suite (the Java heap shrinking and growing,
     * the JIT: 20-40 MiB seen), so that what is measured is the allocator.
     */
    private static final long TOTAL = 768L << 20;

    @ParameterizedTest
    @ValueSource(strings = {"private", "global"})
    void rssFallsBackAfterFreeAndTrim(String which) {
        assumeTrue(Files.isReadable(STATUS), "needs /proc/self/status (Linux)");
        MemAlloc alloc = which.equals("global") ? MemAlloc.global() : MemAlloc.builder().name("giving-back").build();
        try {
            alloc.trim();
            long mappedBefore = alloc.stats().mappedBytes();
            long before = settledRssBytes();
            List<MemorySegment> blocks = new ArrayList<>();
            // Small blocks fill regions, large ones get mappings of their own: both must go back.
            for (long allocated = 0; allocated < TOTAL; ) {
                long size = blocks.size() % 8 == 7 ? 3L << 20 : 96 * 1024 + blocks.size() % 13 * 1000;
                MemorySegment block = alloc.allocateUninitialized(size, 16);
                block.fill((byte) 1); // touch every page, so that it is resident
                blocks.add(block);
                allocated += size;
            }
            long peak = rssBytes();
            assertThat(peak - before).as("RSS growth while %d MiB are live", TOTAL >> 20)
                    .isGreaterThan(TOTAL * 3 / 4);

            for (MemorySegment block : blocks) {
                alloc.free(block);
            }
            alloc.trim();
            long after = settledRssBytes();
            assertThat(alloc.stats().mappedBytes()).isLessThanOrEqualTo(mappedBefore);
            assertThat(after - before).as("RSS above the start after free and trim (peak growth %d MiB)",
                    (peak - before) >> 20).isLessThan(TOTAL / 12);
        } finally {
            if (alloc != MemAlloc.global()) {
                alloc.close();
            }
        }
    }

    /**
     * RSS once the Java heap has been collected: each region's side tables (liveness bits, claim bytes: about 1%
     * of the region) live on the Java heap, and only a full collection gives their pages back once the regions
     * are unmapped.
     */
    private static long settledRssBytes() {
        System.gc();
        return rssBytes();
    }

    private static long rssBytes() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS line in " + STATUS);
    }
}
