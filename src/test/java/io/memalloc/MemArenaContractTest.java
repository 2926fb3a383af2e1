package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The {@link Arena} contract, clause by clause, for confined and shared MemArenas. */
class MemArenaContractTest {
    private static final long[] SIZES = {0, 1, 7, 64, 1000, 16 * 1024, 100_000, 1 << 20, 8 << 20};
    private static final long[] ALIGNMENTS = {1, 2, 8, 16, 64, 4096};

    private final MemAlloc alloc = MemAlloc.builder().build();

    /** The two kinds of arena that can be closed. */
    enum Kind {
        CONFINED,
        SHARED;

        MemArena open(MemAlloc alloc) {
            return this == CONFINED ? alloc.newConfinedArena() : alloc.newSharedArena();
        }
    }

    @AfterEach
    void everythingWentBack() {
        alloc.verifyHeap();
        alloc.trim();
        assertThat(alloc.stats().allocatedBytes()).isZero();
        alloc.close();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void segmentsAreNativeExactAlignedZeroedDisjointAndInTheArenasScope(Kind kind) {
        try (MemArena arena = kind.open(alloc)) {
            List<MemorySegment> segments = new ArrayList<>();
            for (long size : SIZES) {
                for (long alignment : ALIGNMENTS) {
                    MemorySegment segment = arena.allocate(size, alignment);
                    assertThat(segment.isNative()).isTrue();
                    assertThat(segment.byteSize()).isEqualTo(size);
                    assertThat(segment.address() % alignment).isZero();
                    assertThat(segment.scope()).isEqualTo(arena.scope());
                    assertThat(Contents.firstMismatch(segment, 0)).as("%d bytes at %d", size, alignment)
                            .isEqualTo(-1);
                    Contents.fill(segment, (int) (size + alignment));
                    segments.add(segment);
                }
            }
            for (int i = 0; i < segments.size(); i++) {
                for (int j = i + 1; j < segments.size(); j++) {
                    assertThat(segments.get(i).asOverlappingSlice(segments.get(j))).isEmpty();
                }
            }
            RegressionTest.assertNoOverlap(segments);
            assertThat(alloc.stats().allocatedBytes()).isGreaterThanOrEqualTo(arena.allocatedBytes());
            assertThat(arena.chunkCount()).isPositive();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void closingKillsTheScopeAndEverySegment(Kind kind) {
        MemArena arena = kind.open(alloc);
        MemorySegment small = arena.allocate(64, 8);
        MemorySegment own = arena.allocate(4 << 20, 16);
        MemorySegment.Scope scope = arena.scope();

        arena.close();

        assertThat(scope.isAlive()).isFalse();
        assertThatThrownBy(() -> small.get(JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> own.set(JAVA_LONG, 0, 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(arena::close).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> arena.allocate(8, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> arena.allocateUninitialized(8, 8)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aConfinedArenaRefusesEveryOtherThread() throws Exception {
        try (MemArena arena = alloc.newConfinedArena()) {
            MemorySegment segment = arena.allocate(64, 8);
            List<Throwable> thrown = new ArrayList<>();
            Thread other = new Thread(() -> {
                for (Runnable attempt : List.<Runnable>of(
                        () -> arena.allocate(8, 8),
                        () -> arena.allocateUninitialized(8, 8),
                        () -> segment.get(JAVA_LONG, 0),
                        arena::close)) {
                    try {
                        attempt.run();
                        thrown.add(null);
                    } catch (WrongThreadException e) {
                        thrown.add(e);
                    }
                }
            });
            other.start();
            other.join();

            assertThat(thrown).hasSize(4).allMatch(t -> t instanceof WrongThreadException);
            assertThat(arena.scope().isAlive()).isTrue();
            segment.set(JAVA_LONG, 0, 7);
            assertThat(segment.get(JAVA_LONG, 0)).isEqualTo(7);
        }
    }

    @Test
    void aSharedArenaServesSeveralThreadsAndAThirdClosesIt() throws Exception {
        MemArena arena = alloc.newSharedArena();
        int threads = 3;
        int perThread = 5_000;
        List<List<MemorySegment>> got = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            List<MemorySegment> mine = new ArrayList<>();
            got.add(mine);
            int value = t + 1;
            workers.add(new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    MemorySegment segment = arena.allocate(8 + (i % 5) * 24L, 8);
                    Contents.fill(segment, value);
                    mine.add(segment);
                }
            }));
        }
        workers.forEach(Thread::start);
        for (Thread worker : workers) {
            worker.join();
        }
        List<MemorySegment> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            for (MemorySegment segment : got.get(t)) {
                assertThat(Contents.firstMismatch(segment, t + 1)).isEqualTo(-1);
                all.add(segment);
            }
        }
        RegressionTest.assertNoOverlap(all);

        AtomicReference<Throwable> closeFailure = new AtomicReference<>();
        Thread closer = new Thread(() -> {
            try {
                arena.close();
            } catch (RuntimeException e) {
                closeFailure.set(e);
            }
        });
        closer.start();
        closer.join();

        assertThat(closeFailure.get()).isNull();
        assertThat(arena.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> all.getFirst().get(JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aReinterpretCleanupRunsAtClose(Kind kind) {
        AtomicBoolean cleaned = new AtomicBoolean();
        MemArena arena = kind.open(alloc);
        MemorySegment segment = arena.allocate(16, 8);
        @SuppressWarnings("restricted")
        MemorySegment bound = MemorySegment.ofAddress(segment.address())
                .reinterpret(16, arena, s -> cleaned.set(true));
        assertThat(bound.scope()).isEqualTo(arena.scope());
        assertThat(cleaned).isFalse();

        arena.close();

        assertThat(cleaned).isTrue();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void badInputIsAsInTheJdkAndTheArenaKeepsWorking(Kind kind) {
        try (MemArena arena = kind.open(alloc)) {
            assertThatThrownBy(() -> arena.allocate(-1, 8)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocate(8, 3)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocate(8, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocateUninitialized(-8, 8))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> arena.allocate(Long.MAX_VALUE, 8)).isInstanceOf(OutOfMemoryError.class);
            assertThatThrownBy(() -> arena.allocate(1L << 62, 1)).isInstanceOf(OutOfMemoryError.class);
            assertThatThrownBy(() -> arena.allocate(8, 1L << 62)).isInstanceOf(OutOfMemoryError.class);

            MemorySegment works = arena.allocate(100, 16);
            Contents.fill(works, 3);
            assertThat(Contents.firstMismatch(works, 3)).isEqualTo(-1);
        }
    }

    @Test
    void aPrivateAllocatorRefusesToCloseWhileAnArenaIsOpen() {
        MemAlloc own = MemAlloc.builder().build();
        MemArena arena = own.newConfinedArena();
        MemorySegment segment = arena.allocate(64, 8);

        assertThatThrownBy(own::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("1 arenas");
        segment.set(JAVA_LONG, 0, 5);
        assertThat(segment.get(JAVA_LONG, 0)).isEqualTo(5);
        assertThat(own.stats().mappedBytes()).isPositive();

        arena.close();
        own.close();
        assertThat(own.stats().mappedBytes()).isZero();
        assertThatThrownBy(own::newConfinedArena).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void theGlobalFactoriesDrawOnTheGlobalAllocator() {
        try (MemArena confined = MemArena.ofConfined(); MemArena shared = MemArena.ofShared()) {
            assertThat(confined.allocator()).isSameAs(MemAlloc.global());
            assertThat(shared.allocator()).isSameAs(MemAlloc.global());
            assertThat(confined.allocateFrom("x").getString(0)).isEqualTo("x");
            assertThat(shared.allocate(JAVA_LONG, 3).byteSize()).isEqualTo(24);
        }
        MemArena auto = MemArena.ofAuto();
        assertThat(auto.allocate(8, 8).scope()).isEqualTo(auto.scope());
        assertThatThrownBy(auto::close).isInstanceOf(UnsupportedOperationException.class);
    }
}
