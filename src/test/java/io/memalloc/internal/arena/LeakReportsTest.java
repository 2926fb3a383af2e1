package io.memalloc.internal.arena;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.arena.LeakReports.Decision;
import io.memalloc.internal.arena.LeakReports.Summary;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Which leaks are logged: the first of a key in full, later ones counted and summed up at most once per interval,
 * keys independent of each other, and no more keys than the bound. The clock is a number the test moves.
 */
class LeakReportsTest {
    private static final long INTERVAL = 5_000;
    private static final String OTHERS = "other sites";

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final LeakReports<String> reports = new LeakReports<>(now::get, INTERVAL, 3, OTHERS);

    @Test
    void theFirstLeakOfAKeyIsInFullLaterOnesAreCountedAndSummedUpOnceTheIntervalHasPassed() {
        assertThat(reports.leaked("a")).isEqualTo(new Decision<>("a", 1, true, List.of()));
        for (int i = 0; i < 3; i++) {
            assertThat(reports.leaked("a")).isEqualTo(new Decision<>("a", 1, false, List.of()));
        }
        now.addAndGet(INTERVAL - 1);
        assertThat(reports.leaked("a")).isEqualTo(new Decision<>("a", 1, false, List.of()));
        now.addAndGet(1);
        assertThat(reports.leaked("a")).isEqualTo(new Decision<>("a", 1, false,
                List.of(new Summary<>("a", 1, 5, 6))));
    }

    @Test
    void forgottenKeysGiveTheirPendingCountsAndTheirRoomAndNumbersAreNotReused() {
        reports.leaked("a-1");
        reports.leaked("a-1");
        reports.leaked("a-2"); // nothing pending
        reports.leaked("b");
        reports.leaked("b");
        assertThat(reports.forget(key -> key.startsWith("a-"))).containsExactly(new Summary<>("a-1", 1, 1, 2));
        assertThat(reports.forget(key -> key.startsWith("a-"))).isEmpty();
        // Their room is free again (3 keys at most), under new numbers; b's count stays b's.
        assertThat(reports.leaked("c")).isEqualTo(new Decision<>("c", 4, true, List.of()));
        assertThat(reports.leaked("a-1")).isEqualTo(new Decision<>("a-1", 5, true, List.of()));
        assertThat(reports.forget("b"::equals)).containsExactly(new Summary<>("b", 3, 1, 2));
    }

    @Test
    void aKeyIsSummedUpAtMostOncePerInterval() {
        reports.leaked("a");
        now.addAndGet(INTERVAL);
        assertThat(reports.leaked("a").summaries()).containsExactly(new Summary<>("a", 1, 1, 2));
        assertThat(reports.leaked("a").summaries()).isEmpty();
        now.addAndGet(INTERVAL - 1);
        assertThat(reports.leaked("a").summaries()).isEmpty();
        now.addAndGet(1);
        assertThat(reports.leaked("a").summaries()).containsExactly(new Summary<>("a", 1, 3, 5));
    }

    @Test
    void keysAreCountedAndSummedUpEachOnItsOwn() {
        reports.leaked("a");
        now.addAndGet(INTERVAL / 2);
        assertThat(reports.leaked("b").inFull()).as("b's first, while a is counted").isTrue();
        reports.leaked("a");
        reports.leaked("b");
        now.addAndGet(INTERVAL / 2);
        // An interval after a's report, half of one after b's: a is due, b is not.
        assertThat(reports.leaked("a").summaries()).containsExactly(new Summary<>("a", 1, 2, 3));
        now.addAndGet(INTERVAL / 2);
        // Less than an interval since the last sweep, but b's own interval has passed.
        assertThat(reports.leaked("b").summaries()).containsExactly(new Summary<>("b", 2, 2, 3));
    }

    @Test
    void countsAKeyNoLongerLeaksAreSummedUpWithTheNextLeakOfAnyKeyAnIntervalLater() {
        reports.leaked("a");
        reports.leaked("a");
        reports.leaked("b");
        reports.leaked("b");
        reports.leaked("b");
        now.addAndGet(INTERVAL);
        assertThat(reports.leaked("c")).isEqualTo(new Decision<>("c", 3, true,
                List.of(new Summary<>("a", 1, 1, 2), new Summary<>("b", 2, 2, 3))));
        now.addAndGet(INTERVAL);
        assertThat(reports.leaked("c").summaries()).as("nothing left of a and b").containsExactly(
                new Summary<>("c", 3, 1, 2));
    }

    @Test
    void pastTheBoundNewKeysAreCountedUnderTheOverflowKeyWhoseFirstLeakIsInFull() {
        assertThat(reports.leaked("a")).isEqualTo(new Decision<>("a", 1, true, List.of()));
        assertThat(reports.leaked("b")).isEqualTo(new Decision<>("b", 2, true, List.of()));
        assertThat(reports.leaked("c")).isEqualTo(new Decision<>("c", 3, true, List.of()));
        assertThat(reports.leaked("d")).isEqualTo(new Decision<>(OTHERS, 4, true, List.of()));
        assertThat(reports.leaked("e")).isEqualTo(new Decision<>(OTHERS, 4, false, List.of()));
        assertThat(reports.leaked("d")).isEqualTo(new Decision<>(OTHERS, 4, false, List.of()));
        assertThat(reports.leaked("a")).as("a key known before the bound stays its own")
                .isEqualTo(new Decision<>("a", 1, false, List.of()));
        now.addAndGet(INTERVAL);
        assertThat(reports.leaked("f").summaries()).containsExactly(new Summary<>("a", 1, 1, 2),
                new Summary<>(OTHERS, 4, 3, 4));
    }

    @Test
    void howeverManyKeysLeakOnlyTheBoundAndTheOverflowKeyAreEverInFull() {
        LeakReports<String> bounded = new LeakReports<>(now::get, INTERVAL, 1024, OTHERS);
        List<String> inFull = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            Decision<String> decision = bounded.leaked("site " + i);
            if (decision.inFull()) {
                inFull.add(decision.key());
            }
        }
        assertThat(inFull).hasSize(1025).endsWith("site 1023", OTHERS);
        now.addAndGet(INTERVAL);
        assertThat(bounded.leaked("site 0").summaries()).containsExactly(new Summary<>("site 0", 1, 1, 2),
                new Summary<>(OTHERS, 1025, 10_000 - 1025, 10_000 - 1024));
    }

    @Test
    void leaksFromManyThreadsAreAllCounted() throws InterruptedException {
        reports.leaked("a");
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 10_000; i++) {
                    reports.leaked("a");
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        now.addAndGet(INTERVAL);
        assertThat(reports.leaked("a").summaries()).containsExactly(new Summary<>("a", 1, 40_001, 40_002));
    }

    @Test
    void aNegativeIntervalOrBoundIsRefused() {
        assertThatThrownBy(() -> new LeakReports<>(now::get, -1, 3, OTHERS))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LeakReports<>(now::get, INTERVAL, -1, OTHERS))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
