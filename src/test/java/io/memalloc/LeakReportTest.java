package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leaks are reported: an arena that becomes unreachable without being closed (once, with where it was made when
 * sites are recorded, and its memory goes back), and blocks never freed when a private allocator closes (with where
 * the oldest were allocated). Reports are read back from a JFR stream, which carries the same text as the log
 * warning: an arena's report comes from the cleaner's thread whenever the collector finds the arena, so a test
 * waits for it rather than for its memory.
 */
@Timeout(60) // guards a hang only: each wait for the collector gives up after 20 s
class LeakReportTest {
    private static final String LEAK_EVENT = "io.memalloc.LeakDetected";

    @RegisterExtension
    final LogCapture log = new LogCapture();

    /** Every LeakDetected event, as the stream delivers them (on its own thread). */
    private final List<RecordedEvent> leaks = new CopyOnWriteArrayList<>();
    private RecordingStream stream;

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void anArenaNeverClosedIsReportedOnceWithWhereItWasMadeAndItsMemoryGoesBack(boolean shared) throws Exception {
        String name = shared ? "leaky-shared" : "leaky-confined";
        MemAlloc alloc = MemAlloc.builder().name(name).regionSize(1 << 20).leakSites(true).build();
        openFillAndForget(alloc, shared);
        RecordedEvent leak = awaitTheOnlyReport(name, alloc);
        assertThat(leak.getString("what")).startsWith("a " + (shared ? "shared" : "confined") + " MemArena on"
                + " MemAlloc '" + name + "' became unreachable without being closed; its 3 chunks")
                .contains("It was created at io.memalloc.LeakReportTest.openFillAndForget(LeakReportTest.java:");
        assertThat(leak.getLong("liveBlocks")).isEqualTo(3); // a first chunk, a second one, a block of its own
        assertThat(leak.getLong("liveBytes")).isGreaterThan(100_000);
        alloc.trim(); // the pooled first chunks count as allocated until then
        assertThat(alloc.stats().allocatedBytes()).isZero();
        alloc.verifyHeap();
        alloc.close(); // refused while an arena is open: the leaked one no longer counts
    }

    @Test
    void withoutSitesTheReportSaysHowToGetThem() throws Exception {
        MemAlloc alloc = MemAlloc.builder().name("leaky-nosites").build();
        openFillAndForget(alloc, false);
        assertThat(awaitTheOnlyReport("leaky-nosites", alloc).getString("what"))
                .contains("became unreachable without being closed", "-Dmemalloc.leakSites=true");
        alloc.close();
    }

    @Test
    void aSegmentStillInUseKeepsItsArenasMemoryUntilItIsUnreachableToo() throws Exception {
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
        assertThat(reportsOf("held")).isEmpty();
        kept = null; // now nothing holds the scope
        assertThat(awaitTheOnlyReport("held", alloc).getString("what")).contains("'held' became unreachable");
        alloc.close();
    }

    @Test
    void closeNamesWhereTheOldestBlocksNeverFreedWereAllocated() throws Exception {
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
        String what = awaitTheOnlyReport("forgetful", null).getString("what");
        assertThat(what).startsWith("MemAlloc 'forgetful' closed with 5 blocks never freed")
                .contains("The oldest were allocated:");
        assertThat(what.lines().filter(line -> line.startsWith(
                "  at io.memalloc.LeakReportTest.allocateHere(LeakReportTest.java:"))).hasSize(5);
    }

    @Test
    void withoutSitesCloseSaysHowToGetThem() throws Exception {
        MemAlloc alloc = MemAlloc.builder().name("forgetful-nosites").build();
        allocateHere(alloc);
        alloc.close();
        assertThat(awaitTheOnlyReport("forgetful-nosites", null).getString("what"))
                .contains("1 blocks never freed", "Build it with leakSites(true)");
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

    /** The LeakDetected events of allocator {@code name} the stream has delivered so far. */
    private List<RecordedEvent> reportsOf(String name) {
        return leaks.stream().filter(e -> name.equals(e.getString("allocator"))).toList();
    }

    /**
     * Waits for the first report of allocator {@code name}, collecting garbage meanwhile when {@code collect} is
     * given (an arena's report comes from the cleaner once the collector finds it); then waits as long again and
     * checks that no second report came, and returns the one.
     */
    private RecordedEvent awaitTheOnlyReport(String name, MemAlloc collect) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + Duration.ofSeconds(20).toNanos();
        while (reportsOf(name).isEmpty()) {
            assertThat(System.nanoTime()).as("a report of %s within 20 s", name).isLessThan(deadline);
            if (collect != null) {
                System.gc();
            }
            Thread.sleep(20);
        }
        if (collect != null) {
            System.gc();
        }
        Thread.sleep(Math.max(1_000, (System.nanoTime() - start) / 1_000_000)); // a stream flushes about each second
        assertThat(reportsOf(name)).as("reports of %s", name).hasSize(1);
        return reportsOf(name).get(0);
    }

    @BeforeEach
    void streamLeakEvents() {
        stream = new RecordingStream();
        stream.enable(LEAK_EVENT).withoutThreshold();
        stream.onEvent(LEAK_EVENT, leaks::add);
        stream.startAsync();
    }

    @AfterEach
    void stopStreaming() {
        stream.close();
        // Each report is a warning too, logged just before its event: the one says what the other says.
        assertThat(log.take()).containsExactlyInAnyOrderElementsOf(
                leaks.stream().map(e -> "WARNING: " + e.getString("what")).toList());
    }
}
