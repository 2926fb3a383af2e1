package io.memalloc.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;
import org.junit.platform.testkit.engine.Events;

/**
 * The leak check run as a user's tests run it, through the JUnit platform's test kit: the cases below (nested
 * classes, which Surefire does not run on their own) are selected one by one, and each must pass or fail as it says,
 * with the failure it names.
 */
class MemAllocLeakCheckTest {
    /** The cases leak on purpose, and MemAlloc warns of it: kept off the console while this class runs. */
    private static final Logger MEMALLOC = Logger.getLogger("io.memalloc.MemAlloc");

    @BeforeAll
    static void keepTheCasesWarningsOffTheConsole() {
        MEMALLOC.setUseParentHandlers(false);
    }

    @AfterAll
    static void putTheConsoleBack() {
        MEMALLOC.setUseParentHandlers(true);
    }

    @Test
    void anArenaTheTestOpensAndTheCollectorFindsBeforeTheCheckFailsItToo() {
        assertThat(failure(Given.class, "dropsAnArenaOfItsOwnAndWaitsForTheCollector"))
                .contains("1 arenas the test opened on its MemAlloc became unreachable without being closed");
    }

    @Test
    void aTestThatClosesItsMemAllocItselfPasses() {
        assertThat(run(Given.class, "closesItsMemAllocItself").succeeded().count()).isEqualTo(1);
    }

    @Test
    void aTestThatFreesWhatItAllocatesAndClosesItsArenaPasses() {
        assertThat(run(Given.class, "freesAndCloses").succeeded().count()).isEqualTo(1);
    }

    @Test
    void aBlockNeverFreedFailsTheTestSayingWhereItWasAllocated() {
        assertThat(failure(Given.class, "leaksABlock"))
                .startsWith("native memory leaked by leaksABlock(MemAlloc):\n- MemAlloc 'leaksABlock-")
                .contains("closed with 1 blocks never freed (100 bytes asked for)", "Given.leaksABlock(");
    }

    @Test
    void anArenaGivenToTheTestIsClosedAfterIt() {
        assertThat(run(Given.class, "leavesItsArenaOpen").succeeded().count()).isEqualTo(1);
        assertThat(Given.lastArena.scope().isAlive()).isFalse();
    }

    @Test
    void anArenaTheTestOpensOnItsAllocatorAndNeverClosesFailsIt() {
        assertThat(failure(Given.class, "opensAnArenaOfItsOwn"))
                .contains("the test's MemAlloc could not close: 1 arenas drawing on this MemAlloc are still open");
    }

    @Test
    void theGlobalModeFailsATestThatLeavesABlockOfTheGlobalAllocatorOrAnArenaOfItOpen() {
        assertThat(failure(Global.class, "leaksAGlobalBlock")).contains("MemAlloc.global() holds 1 more live"
                + " allocations than before the test (64 more bytes)");
        assertThat(failure(Global.class, "leavesAGlobalArenaOpen")).contains("MemAlloc.global() holds 1 more live"
                + " allocations than before the test (16384 more bytes)");
        assertThat(run(Global.class, "closesItsGlobalArena").succeeded().count()).isEqualTo(1);
    }

    private static Events run(Class<?> cases, String method) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectMethod(cases, method, parameters(cases, method)))
                .execute().testEvents();
    }

    /** The parameter types of {@code method}, as a method selector names them. */
    private static String parameters(Class<?> cases, String method) {
        for (Method m : cases.getDeclaredMethods()) {
            if (m.getName().equals(method)) {
                return String.join(",", Arrays.stream(m.getParameterTypes()).map(Class::getName).toList());
            }
        }
        throw new IllegalArgumentException(method);
    }

    /** The message of the one failure of {@code method}, which must fail with an AssertionError. */
    private static String failure(Class<?> cases, String method) {
        List<Event> failed = run(cases, method).failed().list();
        assertThat(failed).hasSize(1);
        Throwable thrown = failed.getFirst().getRequiredPayload(TestExecutionResult.class).getThrowable()
                .orElseThrow();
        assertThat(thrown).isInstanceOf(AssertionError.class);
        return thrown.getMessage();
    }

    /** Cases with the allocator and arena the extension gives; each says whether it must pass. */
    @ExtendWith(MemAllocLeakCheck.class)
    static class Given {
        /** The arena the last case that keeps one was given, for the test to look at afterwards. */
        static volatile MemArena lastArena;
        /** An arena a case leaks and keeps reachable. */
        static volatile MemArena kept;

        @Test
        void freesAndCloses(MemAlloc alloc, MemArena arena) {
            arena.allocate(64);
            MemorySegment block = alloc.allocate(100);
            alloc.free(block);
        }

        @Test
        void leaksABlock(MemAlloc alloc) {
            alloc.allocate(100);
        }

        @Test
        void leavesItsArenaOpen(MemArena arena) {
            arena.allocate(64);
            lastArena = arena;
        }

        @Test
        @SuppressWarnings("MustBeClosedChecker") // the leak under test
        void opensAnArenaOfItsOwn(MemAlloc alloc) {
            kept = alloc.newConfinedArena(); // kept reachable: the check must find it open, not collected
            kept.allocate(64);
        }

        @Test
        @SuppressWarnings("MustBeClosedChecker") // the leak under test
        void dropsAnArenaOfItsOwnAndWaitsForTheCollector(MemAlloc alloc) {
            alloc.newConfinedArena().allocate(64);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (alloc.stats().leakedArenas() == 0 && System.nanoTime() < deadline) {
                System.gc();
            }
        }

        @Test
        void closesItsMemAllocItself(MemAlloc alloc) {
            alloc.free(alloc.allocate(8));
            alloc.close();
        }
    }

    /** Cases of code that uses the global allocator itself. */
    static class Global {
        @RegisterExtension
        static final MemAllocLeakCheck LEAKS = MemAllocLeakCheck.ofGlobal();

        @Test
        void leaksAGlobalBlock() {
            MemAlloc.global().allocate(64);
        }

        /** An arena a case leaks and keeps reachable, so that it is still open when the check runs. */
        static volatile Arena kept;

        @Test
        @SuppressWarnings("MustBeClosedChecker") // the leak under test
        void leavesAGlobalArenaOpen() {
            kept = MemArena.ofConfined();
            kept.allocate(64);
        }

        @Test
        void closesItsGlobalArena() {
            try (Arena arena = MemArena.ofConfined()) {
                arena.allocate(64);
            }
        }
    }
}
