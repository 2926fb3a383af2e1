package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A shared arena's close, as the JDK's: its memory goes back exactly once, on the thread whose close succeeded,
 * after that close's handshake; every other close throws and gives nothing back; and an allocation made once the
 * close has begun throws {@link IllegalStateException}, whatever chunk it would take.
 *
 * <p>A close is held in progress by a cleanup action of the user's that waits on a latch: the JDK runs it after it
 * has marked the scope closed and done its handshake, and before MemAlloc's own release, which it registered first.
 */
@Timeout(120) // guards a hang only
@SuppressWarnings("restricted") // reinterpret, to add cleanup actions to an arena
class SharedArenaCloseTest {
    /**
     * What an allocation takes, by the size asked for, once the arena has used 1 KiB: a slice of its first chunk, a
     * second chunk, a block of its own.
     */
    private static final long[] SIZES = {64, 16 * 1024, 64 * 1024};

    @ParameterizedTest
    @ValueSource(strings = {"private", "global"}) // a private allocator unmaps the block at once; global() keeps it
    void twoClosesAtOnceWhileAThirdThreadFillsTheMemoryEndNormally(String allocator) throws Exception {
        ChildJvm.Outcome outcome = ChildJvm.run(SharedArenaCloseScenario.class, Duration.ofSeconds(90), "6",
                allocator);
        assertThat(outcome.output()).contains("all 6 rounds ended normally");
        assertThat(outcome.exitCode()).as(outcome.output()).isZero();
    }

    @Test
    void aLosingCloseThrowsAndGivesNothingBackWhileTheWinnerIsStillClosing() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(1 << 20).build()) {
            MemArena arena = alloc.newSharedArena();
            arena.allocate(1 << 20); // a block of its own: a large block of the allocator
            long held = alloc.stats().allocatedBytes();
            HeldClose close = HeldClose.start(arena);

            assertThatThrownBy(arena::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(alloc.stats().allocatedBytes()).as("bytes held while the winner closes").isEqualTo(held);

            close.finish();
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(held - (1 << 20));
            assertThatThrownBy(arena::close).isInstanceOf(IllegalStateException.class);
            alloc.verifyHeap();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2})
    void anAllocationFromACleanupActionOfTheCloseThrows(int sizeIndex) {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(1 << 20).build()) {
            MemArena arena = alloc.newSharedArena();
            arena.allocate(1024); // the first chunk has room for the first size, not for the second
            AtomicReference<Object> outcome = new AtomicReference<>();
            MemorySegment.NULL.reinterpret(arena, _ -> outcome.set(attempt(arena, SIZES[sizeIndex])));
            arena.close();
            assertThat(outcome.get()).isInstanceOf(IllegalStateException.class);
            assertThat(((IllegalStateException) outcome.get())).hasMessage("Already closed");
            alloc.trim();
            assertThat(alloc.stats().allocatedBytes()).isZero();
            alloc.verifyHeap();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2})
    void anAllocationOnAThreadThatHasSeenTheScopeDeadThrows(int sizeIndex) throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(1 << 20).build()) {
            MemArena arena = alloc.newSharedArena();
            arena.allocate(1024);
            HeldClose close = HeldClose.start(arena);
            assertThat(arena.scope().isAlive()).isFalse(); // HeldClose waited for this
            assertThat(attempt(arena, SIZES[sizeIndex])).isInstanceOf(IllegalStateException.class);
            close.finish();
            alloc.trim();
            assertThat(alloc.stats().allocatedBytes()).as("nothing taken by the late allocation is lost").isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
            alloc.verifyHeap();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aCleanupActionThatThrowsAnErrorStillLetsTheMemoryGoBack(String kind) {
        MemAlloc alloc = MemAlloc.builder().regionSize(1 << 20).build();
        MemArena arena = kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena();
        arena.allocate(64 * 1024); // a block of its own
        assertThat(alloc.stats().liveAllocations()).isPositive();
        // The JDK stops running cleanup actions at an Error: the release MemAlloc registered first must not be lost.
        MemorySegment.NULL.reinterpret(arena, _ -> {
            throw new AssertionError("a cleanup action's own bug");
        });
        assertThatThrownBy(arena::close).isInstanceOf(AssertionError.class).hasMessage("a cleanup action's own bug");
        assertThat(arena.scope().isAlive()).isFalse();
        alloc.trim();
        assertThat(alloc.stats().allocatedBytes()).isZero();
        alloc.close(); // refused while an arena is counted open
    }

    /** An allocation's outcome: the segment, or what it threw. */
    private static Object attempt(MemArena arena, long size) {
        try {
            return arena.allocate(size);
        } catch (IllegalStateException e) {
            return e;
        }
    }

    /** A close running on another thread, held in a cleanup action of the user's until {@link #finish}. */
    private record HeldClose(CountDownLatch release, CompletableFuture<Void> done) {
        static HeldClose start(MemArena arena) throws InterruptedException {
            CountDownLatch inCleanup = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            MemorySegment.NULL.reinterpret(arena, _ -> {
                inCleanup.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            });
            CompletableFuture<Void> done = CompletableFuture.runAsync(arena::close,
                    r -> Thread.ofPlatform().start(r));
            assertThat(inCleanup.await(60, TimeUnit.SECONDS)).as("the close reached the cleanup action").isTrue();
            return new HeldClose(release, done);
        }

        void finish() throws Exception {
            release.countDown();
            done.get(60, TimeUnit.SECONDS);
        }
    }
}
