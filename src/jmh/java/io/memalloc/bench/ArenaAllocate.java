package io.memalloc.bench;

import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One op: one allocation of 64 bytes (8-byte aligned, zeroed, as {@link Arena#allocate} always is) in an arena
 * that is already open. The JDK's arenas {@code malloc} each allocation and keep a record of it to free on close;
 * MemAlloc's slice it from a chunk.
 *
 * <p>So that memory stays bounded, the arena is renewed every {@value #RENEW_EVERY} allocations: closed, and a new
 * one opened. That close and open are part of the op that does them, so their cost is amortized into the figure,
 * a ten-thousandth of it on each op; {@link ArenaLifecycle} measures them on their own.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class ArenaAllocate {
    /** Allocations in one arena before it is closed and a new one opened. */
    static final int RENEW_EVERY = 10_000;

    @Param({"JDK_CONFINED", "JDK_SHARED", "MEM_CONFINED", "MEM_SHARED"})
    public ArenaLifecycle.Kind arena;

    private Arena open;
    private int left;

    @Setup(Level.Iteration)
    public void open() {
        open = newArena();
        left = RENEW_EVERY;
    }

    /** Each factory called as users call it, as in {@link ArenaLifecycle}. */
    @SuppressWarnings("MustBeClosedChecker") // closed when renewed, and after the iteration
    private Arena newArena() {
        return switch (arena) {
            case JDK_CONFINED -> Arena.ofConfined();
            case JDK_SHARED -> Arena.ofShared();
            case MEM_CONFINED -> MemArena.ofConfined();
            case MEM_SHARED -> MemArena.ofShared();
            default -> throw new IllegalArgumentException("not an arena this benchmark renews: " + arena);
        };
    }

    @TearDown(Level.Iteration)
    public void close() {
        open.close();
    }

    /** Returns the segment's address, which keeps the allocation live. */
    @Benchmark
    public long allocate() {
        if (left-- == 0) {
            open.close();
            open = newArena();
            left = RENEW_EVERY - 1;
        }
        return open.allocate(64, 8).address();
    }
}
