package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * A buffer that grows by doubling, as a growable array or a string builder's does. One op: allocate 16 bytes, then
 * reallocate to 32, 64 and so on up to 64 KiB (12 reallocations, each keeping the content), then free.
 *
 * <p>{@code memAlloc}: {@code allocateUninitialized(16, 16)}, then {@code reallocate}, which also zeroes the bytes
 * past the old size (its contract), then {@code free}. {@code libc}, {@code jemalloc}, {@code mimalloc}:
 * {@code malloc}, {@code realloc} and {@code free} through plain FFM downcalls; {@code realloc} leaves the new bytes
 * as they are. Nothing is written into the buffer: what is measured is the allocator, in place or moving.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class Realloc {
    private static final long FIRST = 16;
    private static final long LAST = 64 * 1024;

    private final MemAlloc alloc = MemAlloc.global();

    /** Links the C allocator of the benchmark, if it has one, before it is measured. */
    @Setup
    public void link(BenchmarkParams params) {
        NativeHeap.linkFor(params.getBenchmark());
    }

    /** Returns the sum of the addresses the block had, which keeps every step live. */
    @Benchmark
    public long memAlloc() {
        MemorySegment block = alloc.allocateUninitialized(FIRST, 16);
        long sum = block.address();
        for (long size = 2 * FIRST; size <= LAST; size *= 2) {
            block = alloc.reallocate(block, size);
            sum += block.address();
        }
        alloc.free(block);
        return sum;
    }

    @Benchmark
    public long libc() {
        return grow(NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    public long jemalloc() {
        return grow(NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    public long mimalloc() {
        return grow(NativeHeap.Mimalloc.PLAIN);
    }

    /** The op on a C allocator; {@code heap} is a holder's constant, so that its downcalls fold once inlined. */
    private static long grow(NativeHeap heap) {
        long block = heap.malloc(FIRST);
        long sum = block;
        for (long size = 2 * FIRST; size <= LAST; size *= 2) {
            block = heap.realloc(block, size);
            sum += block;
        }
        heap.free(block);
        return sum;
    }
}
