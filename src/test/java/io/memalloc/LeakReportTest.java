package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.arena.LeakReportClock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * Leaks are reported: an arena that becomes unreachable without being closed (an event each, a warning for the
 * first of its site with where it was made when sites are recorded, then counts; and its memory goes back), and
 * blocks never freed when a private allocator closes (with where the oldest were allocated). Reports are read back
 * from a JFR stream and from the log, captured for each test: an arena's report comes from the cleaner's thread
 * whenever the collector finds the arena, so a test waits for its event rather than for its memory. The arenas'
 * reports run on a clock that a test moves, fresh for each test.
 */
@Timeout(60) // guards a hang only: awaitTheOnlyReport gives up after 20 s; awaitReports waits for this
class LeakReportTest {
    private static final String LEAK_EVENT = "io.memalloc.LeakDetected";

    @RegisterExtension
    final LogCapture log = new LogCapture();

    /** Every LeakDetected event, as the stream delivers them (on its own thread). */
    private final List<RecordedEvent> leaks = new CopyOnWriteArrayList<>();
    private RecordingStream stream;
    private LeakReportClock clock;

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
        assertThat(log.mentioning("'" + name + "'")).singleElement().satisfies(warning -> {
            assertThat(warning.getLevel()).isEqualTo(Level.WARNING);
            assertThat(warning.getMessage()).matches(Pattern.quote(leak.getString("what")) + "\\. Later leaks from"
                    + " this stack \\(leak site \\d+\\) are counted, and their number logged at most every 5 s\\.");
            assertThat(warning.getThrown().getStackTrace()[0].getMethodName()).isEqualTo("openFillAndForget");
        });
        assertThat(leak.getLong("liveBlocks")).isEqualTo(3); // a first chunk, a second one, a block of its own
        assertThat(alloc.stats().leakedArenas()).as("counted, for a test's leak check").isEqualTo(1);
        assertThat(leak.getLong("liveBytes")).isGreaterThan(100_000);
        assertThat(alloc.stats().allocatedBytes()).isZero(); // its first chunk went back to the pool, counted apart
        alloc.verifyHeap();
        alloc.close(); // refused while an arena is open: the leaked one no longer counts
    }

    @Test
    void withoutSitesTheReportSaysHowToGetThem() throws Exception {
        MemAlloc alloc = MemAlloc.builder().name("leaky-nosites").build();
        openFillAndForget(alloc, false);
        assertThat(awaitTheOnlyReport("leaky-nosites", alloc).getString("what"))
                .contains("became unreachable without being closed", "-Dmemalloc.leakSites=true");
        assertThat(log.mentioning("'leaky-nosites'")).singleElement().satisfies(warning -> {
            assertThat(warning.getMessage()).contains("-Dmemalloc.leakSites=true", "Later leaks of confined arenas"
                    + " on MemAlloc 'leaky-nosites' are counted");
            assertThat(warning.getThrown()).isNull();
        });
        alloc.close();
    }

    /**
     * 200 arenas leaked at one place: the first is logged in full, the others counted and summed up once per
     * interval (two lines, the second when the leak of another allocator's arena comes an interval later); every
     * arena still has its event. An arena left unclosed by another test class may leak meanwhile and sweep the
     * counts at the first interval, before this test's next leak: hence the first line counts 99 or 100.
     */
    @Test
    void manyArenasLeakedAtOnePlaceLogOneWarningThenCountsAndAnEventEach() throws InterruptedException {
        String name = "leaky-many";
        MemAlloc alloc = MemAlloc.builder().name(name).leakSites(true).build();
        for (int batch = 1; batch <= 2; batch++) {
            openAndDrop(alloc, 100); // on one line, so that every arena has one stack
            awaitReports(name, 100 * batch);
            if (batch == 1) {
                assertThat(log.mentioning("'" + name + "'")).singleElement().satisfies(warning -> {
                    assertThat(warning.getMessage()).startsWith("a confined MemArena on MemAlloc '" + name + "'"
                            + " became unreachable without being closed; its 1 chunks").contains("It was created at"
                            + " io.memalloc.LeakReportTest.openAndDrop(LeakReportTest.java:", "Later leaks from this"
                            + " stack (leak site ");
                    assertThat(warning.getThrown().getStackTrace()[0].getMethodName()).isEqualTo("openAndDrop");
                });
            }
            clock.passInterval();
        }
        MemAlloc other = MemAlloc.builder().name("leaky-many-other").build();
        openAndDrop(other, 1); // a leak of another key, an interval later: the counts still pending are logged
        awaitReports("leaky-many-other", 1);

        List<LogRecord> warnings = log.mentioning("'" + name + "'");
        assertThat(warnings).extracting(LogRecord::getMessage).hasSize(3);
        Matcher site = Pattern.compile("\\(leak site (\\d+)\\)").matcher(warnings.get(0).getMessage());
        assertThat(site.find()).isTrue();
        long[] first = siteCountAndTotal(warnings.get(1));
        long[] second = siteCountAndTotal(warnings.get(2));
        assertThat(first[0]).as("the site").isEqualTo(second[0]).isEqualTo(Long.parseLong(site.group(1)));
        assertThat(first[1]).isBetween(99L, 100L);
        assertThat(first[2]).isEqualTo(first[1] + 1);
        assertThat(second[1]).isEqualTo(199 - first[1]);
        assertThat(second[2]).isEqualTo(200);
        assertThat(reportsOf(name)).hasSize(200).allSatisfy(leak -> {
            assertThat(leak.getString("what")).contains("It was created at io.memalloc.LeakReportTest.openAndDrop(");
            assertThat(leak.getLong("liveBlocks")).isEqualTo(1);
        });
        alloc.trim();
        assertThat(alloc.stats().allocatedBytes()).isZero();
        alloc.close();
        other.close();
    }

    /** {@return the site number, count and total of a summary line of arenas leaked at {@link #openAndDrop}} */
    private static long[] siteCountAndTotal(LogRecord summary) {
        Matcher line = Pattern.compile("MemAlloc 'leaky-many': (\\d+) more confined MemArenas from leak site (\\d+)"
                + " \\(created at io\\.memalloc\\.LeakReportTest\\.openAndDrop\\(LeakReportTest\\.java:\\d+\\)\\) became"
                + " unreachable without being closed since the last report \\((\\d+) in all\\); their memory went"
                + " back\\.")
                .matcher(summary.getMessage());
        assertThat(line.matches()).as("a summary line: %s", summary.getMessage()).isTrue();
        assertThat(summary.getThrown()).isNull();
        return new long[] {Long.parseLong(line.group(2)), Long.parseLong(line.group(1)), Long.parseLong(line.group(3))};
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

    /**
     * Opens {@code count} arenas, takes 64 bytes of each one's first chunk, and drops them: all from one place, the
     * same stack (a loop in each caller would make each loop a place of its own).
     */
    @SuppressWarnings("MustBeClosedChecker") // the point: they are never closed
    private static void openAndDrop(MemAlloc alloc, int count) {
        for (int i = 0; i < count; i++) {
            alloc.newConfinedArena().allocate(64, 8);
        }
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

    /**
     * Waits, collecting garbage meanwhile, until the stream has delivered {@code count} reports of allocator
     * {@code name}; the class's timeout ends a wait that never does.
     */
    private void awaitReports(String name, int count) throws InterruptedException {
        synchronized (leaks) {
            while (reportsOf(name).size() < count) {
                System.gc();
                leaks.wait(100); // woken by each event; the timeout only to collect again
            }
        }
    }

    private void delivered(RecordedEvent leak) {
        synchronized (leaks) {
            leaks.add(leak);
            leaks.notifyAll();
        }
    }

    @BeforeEach
    void streamLeakEventsAndCaptureTheLog() {
        clock = LeakReportClock.install();
        stream = new RecordingStream();
        stream.enable(LEAK_EVENT).withoutThreshold();
        stream.setReuse(false); // else the stream may refill an event object this test keeps with a later event
        stream.onEvent(LEAK_EVENT, this::delivered);
        stream.startAsync();
    }

    @AfterEach
    void stopStreamingAndPutTheLogBack() {
        stream.close();
        clock.close();
        // Every warning left is a report: an event's text (a leaked arena's, or blocks never freed at close), or a
        // count of the arenas leaked at one site since its last line.
        List<String> reports = leaks.stream().map(e -> e.getString("what")).toList();
        assertThat(log.takeRecords()).allSatisfy(record -> {
            assertThat(record.getLevel()).isEqualTo(Level.WARNING);
            assertThat(reports.stream().anyMatch(record.getMessage()::startsWith)
                    || record.getMessage().contains("became unreachable without being closed since the last report"))
                    .as(record.getMessage()).isTrue();
        });
    }
}
