package io.memalloc.bench;

import io.memalloc.MemAlloc;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One op: allocate a block of {@code size} bytes, then free it at once, on the same thread. The fast path of each
 * allocator, with nothing live in between: a thread cache's best case.
 *
 * <ul>
 *   <li>{@code memAlloc}: {@code MemAlloc.global().allocate(size, 16)} (zeroed), then {@code free};
 *       {@code memAllocUninitialized} the same with {@code allocateUninitialized}, the counterpart of
 *       {@code malloc}.</li>
 *   <li>{@code memAllocPrivate}: the {@code memAlloc} op on an allocator of {@code MemAlloc.builder().build()};</li>
 *   <li>{@code libc}, {@code jemalloc}, {@code mimalloc}: {@code malloc(size)} then {@code free} through plain FFM
 *       downcalls; the {@code Critical} variants through {@code Linker.Option.critical(false)} downcalls, which skip
 *       the thread-state transition (what the downcall itself costs is the difference). The handles are constants
 *       to the JIT, as {@code static final} handles in a program would be (see {@link NativeHeap.Libc}).</li>
 *   <li>{@code netty}: {@code PooledByteBufAllocator.DEFAULT.directBuffer(size, size)} then {@code release()}, as
 *       shipped: a JMH thread is not a {@code FastThreadLocalThread}, so by default it gets no thread cache and every
 *       op goes to a shared arena. {@code nettyThreadCache}: the same with
 *       {@code io.netty.allocator.useCacheForAllThreads=true}, set as a system property in a {@code @Setup} before
 *       anything touches Netty (a {@code @Fork(jvmArgsAppend)} would be lost: JMH lets the runner's
 *       {@code jvmArgsAppend}, which {@link Bench} always sets, replace the annotation's); the setup checks that it
 *       took.</li>
 *   <li>{@code memAllocTwoThreads}, {@code libcTwoThreads}: the {@code memAlloc} and {@code libc} op on two threads
 *       at once, each on its own blocks; the score is the average time of one op on one thread, to compare with the
 *       one-thread figure (equal when the allocator scales perfectly on two cores).</li>
 * </ul>
 *
 * Each method returns the block's address (or buffer), which keeps the allocation from being optimized away.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class AllocFree {
    @Param({"16", "64", "1024", "65536"})
    public int size;

    private final MemAlloc alloc = MemAlloc.global();

    /**
     * Links the C allocator of the benchmark, if it has one, and for {@code netty} makes Netty's allocator, before
     * either is measured: their first use takes 100 ms or more. ({@code nettyThreadCache} makes it in its own
     * setup, after setting the property.)
     */
    @Setup
    public void link(BenchmarkParams params) {
        NativeHeap.linkFor(params.getBenchmark());
        if (params.getBenchmark().endsWith(".netty")) {
            PooledByteBufAllocator.DEFAULT.directBuffer(size, size).release();
        }
    }

    /** Turns Netty's thread cache on for every thread; must run before Netty's allocator class is initialized. */
    @State(Scope.Benchmark)
    public static class NettyThreadCache {
        @Setup
        public void setUp() {
            System.setProperty("io.netty.allocator.useCacheForAllThreads", "true");
            if (!PooledByteBufAllocator.defaultUseCacheForAllThreads()) {
                throw new IllegalStateException("Netty's allocator was initialized before the property was set");
            }
            PooledByteBufAllocator.DEFAULT.directBuffer(64, 64).release();
        }
    }

    @Benchmark
    public long memAlloc() {
        MemorySegment block = alloc.allocate(size, 16);
        alloc.free(block);
        return block.address();
    }

    /** A private allocator, built for the trial and closed after it. */
    @State(Scope.Benchmark)
    public static class PrivateAllocator {
        MemAlloc alloc;

        @Setup
        public void build() {
            alloc = MemAlloc.builder().build();
        }

        @TearDown
        public void close() {
            alloc.close();
        }
    }

    @Benchmark
    public long memAllocPrivate(PrivateAllocator allocator) {
        MemorySegment block = allocator.alloc.allocate(size, 16);
        allocator.alloc.free(block);
        return block.address();
    }

    @Benchmark
    public long memAllocUninitialized() {
        MemorySegment block = alloc.allocateUninitialized(size, 16);
        alloc.free(block);
        return block.address();
    }

    @Benchmark
    @Threads(2)
    public long memAllocTwoThreads() {
        return memAlloc();
    }

    @Benchmark
    public long libc() {
        return mallocFree(NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    public long libcCritical() {
        return mallocFree(NativeHeap.Libc.CRITICAL);
    }

    @Benchmark
    @Threads(2)
    public long libcTwoThreads() {
        return mallocFree(NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    public long jemalloc() {
        return mallocFree(NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    public long jemallocCritical() {
        return mallocFree(NativeHeap.Jemalloc.CRITICAL);
    }

    @Benchmark
    public long mimalloc() {
        return mallocFree(NativeHeap.Mimalloc.PLAIN);
    }

    @Benchmark
    public long mimallocCritical() {
        return mallocFree(NativeHeap.Mimalloc.CRITICAL);
    }

    @Benchmark
    public ByteBuf netty() {
        ByteBuf buffer = PooledByteBufAllocator.DEFAULT.directBuffer(size, size);
        buffer.release();
        return buffer;
    }

    @Benchmark
    public ByteBuf nettyThreadCache(NettyThreadCache unused) {
        return netty();
    }

    /** Inlined with {@code heap} a constant from a {@link NativeHeap} holder: the downcall handles fold. */
    private long mallocFree(NativeHeap heap) {
        long address = heap.malloc(size);
        heap.free(address);
        return address;
    }
}
