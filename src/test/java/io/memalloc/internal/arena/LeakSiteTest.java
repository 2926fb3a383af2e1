package io.memalloc.internal.arena;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.arena.ArenaAllocator.Kind;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The keys leaked arenas are counted by, and what their lines say. The sites are made by hand: this test's own frames
 * are in a MemAlloc package, which a site skips.
 */
class LeakSiteTest {
    private static final StackTraceElement OWN =
            new StackTraceElement("io.memalloc.MemAlloc", "newConfinedArena", "MemAlloc.java", 360);

    @Test
    void arenasCreatedAtOnePlaceOnOneAllocatorShareAKeyAndOtherwiseDoNot() {
        LeakSite here = LeakSite.of("pool", Kind.CONFINED, site(caller(12), caller(40)));
        assertThat(LeakSite.of("pool", Kind.CONFINED, site(caller(12), caller(40)))).isEqualTo(here);
        assertThat(here.frames()).containsExactly(caller(12), caller(40));
        assertThat(List.of(LeakSite.of("pool", Kind.CONFINED, site(caller(13), caller(40))),
                LeakSite.of("pool", Kind.CONFINED, site(caller(12), caller(41))),
                LeakSite.of("pool", Kind.SHARED, site(caller(12), caller(40))),
                LeakSite.of("other", Kind.CONFINED, site(caller(12), caller(40))))).doesNotContain(here);
    }

    @Test
    void withoutSitesAKeyIsItsAllocatorAndKind() {
        assertThat(LeakSite.of("pool", Kind.CONFINED, null)).isEqualTo(new LeakSite("pool", Kind.CONFINED, List.of()))
                .isNotEqualTo(LeakSite.of("pool", Kind.SHARED, null))
                .isNotEqualTo(LeakSite.of("other", Kind.CONFINED, null));
    }

    @Test
    void aKeyKeepsAtMostItsFramesFromTheCallersFirst() {
        List<StackTraceElement> deep = new ArrayList<>();
        for (int line = 1; line <= 1000; line++) {
            deep.add(caller(line));
        }
        LeakSite key = LeakSite.of("pool", Kind.SHARED, site(deep.toArray(StackTraceElement[]::new)));
        assertThat(key.frames()).isEqualTo(deep.subList(0, LeakSite.KEY_FRAMES));
    }

    @Test
    void theLinesSayWhereHowManyAndHowToLearnWhere() {
        LeakSite here = LeakSite.of("pool", Kind.CONFINED, site(caller(12)));
        assertThat(here.laterLeaks(3, 5)).isEqualTo("Later leaks from this stack (leak site 3) are counted, and"
                + " their number logged at most every 5 s.");
        assertThat(here.summary(3, 99, 100)).isEqualTo("MemAlloc 'pool': 99 more confined MemArenas from leak site 3"
                + " (created at app.Service.open(Service.java:12)) became unreachable without being closed since the"
                + " last report (100 in all); their memory went back.");
        assertThat(here.summary(3, 1, 2)).startsWith("MemAlloc 'pool': 1 more confined MemArena from leak site 3");

        LeakSite unrecorded = LeakSite.of("pool", Kind.SHARED, null);
        assertThat(unrecorded.laterLeaks(4, 5)).isEqualTo("Later leaks of shared arenas on MemAlloc 'pool' are counted,"
                + " and their number logged at most every 5 s.");
        assertThat(unrecorded.summary(4, 7, 8)).isEqualTo("MemAlloc 'pool': 7 more shared MemArenas (where created is"
                + " not recorded: -Dmemalloc.leakSites=true records it) became unreachable without being closed"
                + " since the last report (8 in all); their memory went back.");

        assertThat(LeakSite.ELSEWHERE.laterLeaks(1025, 5)).startsWith("Leaks from more places than MemAlloc tells apart:");
        assertThat(LeakSite.ELSEWHERE.summary(1025, 3, 4)).isEqualTo("3 more MemArenas created at places not told apart"
                + " became unreachable without being closed since the last report (4 in all); their memory went"
                + " back.");
    }

    /** A site whose stack is MemAlloc's own frames, then {@code callers}. */
    private static Throwable site(StackTraceElement... callers) {
        List<StackTraceElement> frames = new ArrayList<>(List.of(OWN, OWN));
        frames.addAll(List.of(callers));
        Throwable site = new Throwable("the arena was created here");
        site.setStackTrace(frames.toArray(StackTraceElement[]::new));
        return site;
    }

    private static StackTraceElement caller(int line) {
        return new StackTraceElement("app.Service", "open", "Service.java", line);
    }
}
