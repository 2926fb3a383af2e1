package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One op: allocate a block of {@code size} bytes (1, 4 or 16 MiB), then free it at once. Sizes where allocators
 * stop serving from their heaps and map memory of their own: glibc above its mmap threshold (128 KiB at first, then
 * up to 32 MiB as it adapts to blocks freed), MemAlloc above half a region or 1 MiB, whichever is less (1 MiB with
 * the default 4 MiB regions: so every size here gets a mapping of its own).
 *
 * <p>{@code memAlloc}: {@code allocateUninitialized(size, 16)}, since {@code malloc} does not zero either;
 * {@code memAllocZeroed}: {@code allocate(size, 16)}, which zeroes only recycled bytes (a fresh mapping is zero
 * already). {@code libc}, {@code jemalloc}, {@code mimalloc}: {@code malloc} and {@code free} through plain FFM
 * downcalls. Nothing is written into the block, so that pages never touched cost nothing wherever they come from.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class LargeBlocks {
    @Param({"1048576", "4194304", "16777216"})
    public long size;

    private final MemAlloc alloc = MemAlloc.global();

    /** Links the C allocator of the benchmark, if it has one, before it is measured. */
    @Setup
    public void link(BenchmarkParams params) {
        NativeHeap.linkFor(params.getBenchmark());
    }

    @Benchmark
    public long memAlloc() {
        MemorySegment block = alloc.allocateUninitialized(size, 16);
        alloc.free(block);
        return block.address();
    }

    @Benchmark
    public long memAllocZeroed() {
        MemorySegment block = alloc.allocate(size, 16);
        alloc.free(block);
        return block.address();
    }

    @Benchmark
    public long libc() {
        return mallocFree(NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    public long jemalloc() {
        return mallocFree(NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    public long mimalloc() {
        return mallocFree(NativeHeap.Mimalloc.PLAIN);
    }

    /** {@code heap} is a holder's constant, so that its downcalls fold once inlined. */
    private long mallocFree(NativeHeap heap) {
        long address = heap.malloc(size);
        heap.free(address);
        return address;
    }
}
