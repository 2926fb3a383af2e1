package io.memalloc.bench;

import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One op: open a confined arena, allocate one 64 KiB block in it (16-byte aligned), close the arena. What skipping
 * the zeroing saves on a buffer that the caller fills anyway.
 *
 * <p>{@code jdkConfined}: {@code Arena.ofConfined().allocate(65536, 16)}, which is always zeroed (a {@code malloc}
 * and a zeroing of 64 KiB). {@code memConfined}: the same with {@link MemArena#ofConfined()}, zeroed too: 64 KiB is
 * more than the arena's 16 KiB first chunk, so it gets a block of its own from MemAlloc's heap, zeroed where its
 * bytes are recycled. {@code memConfinedUninitialized}: {@link MemArena#allocateUninitialized}, the same block not
 * zeroed at all.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class ArenaUninitialized {
    private static final long SIZE = 64 * 1024;
    private static final long ALIGN = 16;

    /** Opens and closes one arena of each kind, so that the first use of MemAlloc (and of the JDK's arenas), some
     * 150 ms in a fresh JVM, is not measured. */
    @Setup
    public void warm() {
        jdkConfined();
        memConfined();
    }

    /** Returns the block's address, which keeps the allocation live. */
    @Benchmark
    public long jdkConfined() {
        try (Arena arena = Arena.ofConfined()) {
            return arena.allocate(SIZE, ALIGN).address();
        }
    }

    @Benchmark
    public long memConfined() {
        try (MemArena arena = MemArena.ofConfined()) {
            return arena.allocate(SIZE, ALIGN).address();
        }
    }

    @Benchmark
    public long memConfinedUninitialized() {
        try (MemArena arena = MemArena.ofConfined()) {
            return arena.allocateUninitialized(SIZE, ALIGN).address();
        }
    }
}
