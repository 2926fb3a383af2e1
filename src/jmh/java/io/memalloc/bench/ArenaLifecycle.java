package io.memalloc.bench;

import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
        JDK_CONFINED(Arena::ofConfined),
        JDK_SHARED(Arena::ofShared),
        JDK_AUTO(Arena::ofAuto),
        JDK_SLICING(Arena::ofConfined),
        MEM_CONFINED(MemArena::ofConfined),
        MEM_SHARED(MemArena::ofShared),
        MEM_AUTO(MemArena::ofAuto);

        @SuppressWarnings("ImmutableEnumChecker") // a method reference: stateless
        final Supplier<Arena> factory;

        Kind(Supplier<Arena> factory) {
            this.factory = factory;
        }

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

    /** Returns the sum of the addresses, which keeps every allocation live at a cost of one add (a Blackhole per
     * segment would cost more than the allocation being measured). */
    @Benchmark
    public long lifecycle() {
        Arena a = arena.factory.get();
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
