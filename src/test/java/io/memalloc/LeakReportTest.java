package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leaks are reported: an arena that becomes unreachable without being closed (once, with where it was made when
 * sites are recorded, and its memory goes back), and blocks never freed when a private allocator closes (with where
 * the oldest were allocated). Reports are read back from JFR, which carries the same text as the log warning.
 */
@Timeout(60) // guards a hang only: each wait for the collector gives up after 20 s
class LeakReportTest {
    private static final String LEAK_EVENT = "io.memalloc.LeakDetected";

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void anArenaNeverClosedIsReportedOnceWithWhereItWasMadeAndItsMemoryGoesBack(boolean shared) throws Exception {
        String name = shared ? "leaky-shared" : "leaky-confined";
        List<RecordedEvent> leaks = recordLeaks(name, () -> {
            MemAlloc alloc = MemAlloc.builder().name(name).regionSize(1 << 20).leakSites(true).build();
            openFillAndForget(alloc, shared);
            awaitCollected(alloc);
            alloc.verifyHeap();
            alloc.close(); // refused while an arena is open: the leaked one no longer counts
        });
        assertThat(leaks).singleElement().satisfies(e -> {
            assertThat(e.getString("what")).startsWith("a " + (shared ? "shared" : "confined") + " MemArena on"
                    + " MemAlloc '" + name + "' became unreachable without being closed; its 3 chunks")
                    .contains("It was created at io.memalloc.LeakReportTest.openFillAndForget(LeakReportTest.java:");
            assertThat(e.getLong("liveBlocks")).isEqualTo(3); // a first chunk, a second one, a block of its own
            assertThat(e.getLong("liveBytes")).isGreaterThan(100_000);
        });
    }

    @Test
    void withoutSitesTheReportSaysHowToGetThem() throws Exception {
        List<RecordedEvent> leaks = recordLeaks("leaky-nosites", () -> {
            MemAlloc alloc = MemAlloc.builder().name("leaky-nosites").build();
            openFillAndForget(alloc, false);
            awaitCollected(alloc);
            alloc.close();
        });
        assertThat(leaks).singleElement().satisfies(e -> assertThat(e.getString("what"))
                .contains("became unreachable without being closed", "-Dmemalloc.leakSites=true"));
    }

    @Test
    void aSegmentStillInUseKeepsItsArenasMemoryUntilItIsUnreachableToo() throws Exception {
        List<RecordedEvent> leaks = recordLeaks("held", () -> {
            MemAlloc alloc = MemAlloc.builder().name("held").build();
            MemorySegment kept = openFillAndForget(alloc, false);
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(20);
            }
            // The arena object is gone, but its scope lives in the segment: the memory must still be the segment's.
            assertThat(Contents.firstMismatch(kept, 0x5A)).isEqualTo(-1);
            kept.fill((byte) 0x33);
            assertThat(Contents.firstMismatch(kept, 0x33)).isEqualTo(-1);
            alloc.trim();
            assertThat(alloc.stats().allocatedBytes()).isPositive();
            kept = null; // now nothing holds the scope
            awaitCollected(alloc);
            alloc.close();
        });
        assertThat(leaks).hasSize(1);
    }

    @Test
    void closeNamesWhereTheOldestBlocksNeverFreedWereAllocated() throws Exception {
        List<RecordedEvent> leaks = recordLeaks("forgetful", () -> {
            MemAlloc alloc = MemAlloc.builder().name("forgetful").leakSites(true).build();
            for (int i = 0; i < 8; i++) {
                MemorySegment block = allocateHere(alloc);
                if (i % 2 == 1) {
                    alloc.free(block);
                }
            }
            MemorySegment moved = alloc.reallocate(allocateHere(alloc), 100_000);
            assertThat(moved.byteSize()).isEqualTo(100_000);
            alloc.close();
        });
        assertThat(leaks).singleElement().satisfies(e -> {
            String what = e.getString("what");
            assertThat(what).startsWith("MemAlloc 'forgetful' closed with 5 blocks never freed")
                    .contains("The oldest were allocated:");
            assertThat(what.lines().filter(line -> line.startsWith(
                    "  at io.memalloc.LeakReportTest.allocateHere(LeakReportTest.java:"))).hasSize(5);
        });
    }

    @Test
    void withoutSitesCloseSaysHowToGetThem() throws Exception {
        List<RecordedEvent> leaks = recordLeaks("forgetful-nosites", () -> {
            MemAlloc alloc = MemAlloc.builder().name("forgetful-nosites").build();
            allocateHere(alloc);
            alloc.close();
        });
        assertThat(leaks).singleElement().satisfies(e -> assertThat(e.getString("what"))
                .contains("1 blocks never freed", "Build it with leakSites(true)"));
    }

    private static MemorySegment allocateHere(MemAlloc alloc) {
        return alloc.allocate(64, 8);
    }

    /**
     * Opens an arena, takes three chunks' worth (the first, a second, a block of its own), and drops the arena;
     * returns one segment, which the caller may keep or drop.
     */
    @SuppressWarnings("MustBeClosedChecker") // the point: it is never closed
    private static MemorySegment openFillAndForget(MemAlloc alloc, boolean shared) {
        Arena arena = shared ? alloc.newSharedArena() : alloc.newConfinedArena();
        MemorySegment first = arena.allocate(10_000, 8);
        arena.allocate(10_000, 8); // no longer fits the 16 KiB first chunk: a second chunk
        arena.allocate(ValueLayout.JAVA_BYTE, 100_000); // bigger than a first chunk: a block of its own
        first.fill((byte) 0x5A);
        return first;
    }

    /** Waits until the collector has found the forgotten arena and its memory went back: nothing allocated. */
    private static void awaitCollected(MemAlloc alloc) throws InterruptedException {
        await(() -> {
            System.gc();
            alloc.trim(); // the pooled first chunks count as allocated until then
            return alloc.stats().allocatedBytes() == 0;
        });
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("the collector found the arena within 20 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private interface Work {
        void run() throws Exception;
    }

    /** The LeakDetected events of allocator {@code name} while {@code work} runs. */
    private List<RecordedEvent> recordLeaks(String name, Work work) throws Exception {
        Path file = dir.resolve(name + ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable(LEAK_EVENT).withoutThreshold().withStackTrace();
            recording.start();
            work.run();
            recording.stop();
            recording.dump(file);
        }
        return RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals(LEAK_EVENT) && name.equals(e.getString("allocator")))
                .toList();
    }
}
