package io.memalloc.bench;

import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * An arena's whole life: create, {@code count} allocations of {@code size} bytes, close. Automatic arenas are not
 * closed; they are dropped for the garbage collector, whose work the measurement then includes as it would in an
 * application.
 *
 * <p>{@code JDK_SLICING} is the JDK's fastest way to the same result: a confined arena, one chunk of
 * {@code count * size} bytes allocated in it (a malloc and a zeroing of the whole chunk), and
 * {@link SegmentAllocator#slicingAllocator} over it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class ArenaLifecycle {
    /** The arenas compared. */
    public enum Kind {
        JDK_CONFINED, JDK_SHARED, JDK_AUTO, JDK_SLICING, MEM_CONFINED, MEM_SHARED, MEM_AUTO;

        boolean automatic() {
            return this == JDK_AUTO || this == MEM_AUTO;
        }
    }

    @Param
    public Kind arena;

    /** {@code count x size}. */
    @Param({"1x64", "100x64", "10000x16", "100x1024", "1x65536"})
    public String shape;

    private int count;
    private long size;

    @Setup
    public void setUp() {
        String[] parts = shape.split("x", -1);
        count = Integer.parseInt(parts[0]);
        size = Long.parseLong(parts[1]);
    }

    /** Each factory called as users call it: directly, so that the JIT sees the same code it would see there. */
    @SuppressWarnings("MustBeClosedChecker") // the caller closes it (or drops an automatic one)
    private Arena open() {
        return switch (arena) {
            case JDK_CONFINED, JDK_SLICING -> Arena.ofConfined();
            case JDK_SHARED -> Arena.ofShared();
            case JDK_AUTO -> Arena.ofAuto();
            case MEM_CONFINED -> MemArena.ofConfined();
            case MEM_SHARED -> MemArena.ofShared();
            case MEM_AUTO -> MemArena.ofAuto();
        };
    }

    /** Returns the sum of the addresses, which keeps every allocation live at a cost of one add (a Blackhole per
     * segment would cost more than the allocation being measured). */
    @Benchmark
    public long lifecycle() {
        Arena a = open();
        SegmentAllocator allocator = arena == Kind.JDK_SLICING
                ? SegmentAllocator.slicingAllocator(a.allocate(count * size, 8))
                : a;
        long sum = 0;
        for (int i = 0; i < count; i++) {
            MemorySegment segment = allocator.allocate(size, 8);
            sum += segment.address();
        }
        if (!arena.automatic()) {
            a.close();
        }
        return sum;
    }
}
