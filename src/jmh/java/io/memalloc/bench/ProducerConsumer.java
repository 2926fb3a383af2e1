package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Control;

/**
 * Every block freed by another thread than the one that allocated it, after xmalloc-test: a producer thread
 * allocates blocks and hands them through a bounded single-producer single-consumer ring of {@value #RING} entries
 * to a consumer thread, which frees them. The cost of remote frees, and of memory that flows one way between
 * threads.
 *
 * <p>Each group ({@code memAlloc}, {@code libc}, {@code jemalloc}, {@code mimalloc}) runs one producer and one
 * consumer. A producer op allocates one block of {@code size} bytes ({@code 64}, or a random size in 16..512 from a
 * fixed seed, precomputed and cycled) and puts it in the ring, spinning while the ring is full; a consumer op takes
 * one block out, spinning while the ring is empty, and frees it. The group's score is the sum of both threads'
 * ops per microsecond, so blocks per microsecond are half of it; JMH lists each side's own figure under it
 * ({@code :memAllocProduce}, {@code :memAllocConsume}), and the slower side sets the pace. Spinning ends when JMH
 * stops the measurement, so that an iteration can end with a thread waiting; the blocks left in the ring are freed
 * after each iteration. A thread that has spun 10,000 times in a row parks for 50 us at a time, so that on 2 cores
 * the JIT's threads are not starved while the code is still interpreted (without it, warming up took seconds); in
 * steady state the other thread is never that far behind.
 *
 * <p>MemAlloc allocates with {@code allocateUninitialized(size, 16)}, the counterpart of {@code malloc}; the C
 * allocators are called through plain FFM downcalls. On 2 cores the two threads have a core each, and nothing else.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Group)
public class ProducerConsumer {
    /** Entries in the ring; a power of two. */
    static final int RING = 1024;
    /** Spins in a row before {@link #backOff} parks. */
    private static final int PATIENCE = 10_000;
    private static final long PARK_NANOS = 50_000;
    /** Precomputed sizes, cycled; a power of two. */
    private static final int SIZES = 4096;

    /** {@code 64}, or {@code 16..512} for random sizes in that range. */
    @Param({"64", "16..512"})
    public String size;

    final int[] sizes = new int[SIZES];

    @Setup
    public void setUp() {
        String[] range = size.split("\\.\\.", -1);
        int min = Integer.parseInt(range[0]);
        int max = Integer.parseInt(range[range.length - 1]);
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < SIZES; i++) {
            sizes[i] = random.nextInt(min, max + 1);
        }
    }

    /**
     * Where one thread is in the ring: the producer's next slot to fill, or the consumer's next slot to empty. Each
     * thread has its own; both start again at 0, with the ring empty, at each iteration.
     */
    @State(Scope.Thread)
    public static class Cursor {
        long position;

        @Setup(Level.Iteration)
        public void rewind() {
            position = 0;
        }

        int slot() {
            return (int) position & (RING - 1);
        }
    }

    /** The ring of a C allocator: addresses, 0 in an empty slot. */
    abstract static class NativeRing {
        private final NativeHeap.Library library;
        final AtomicLongArray ring = new AtomicLongArray(RING);

        NativeRing(NativeHeap.Library library) {
            this.library = library;
        }

        /** Links the library before the measurement: its first downcall takes 100 ms or more. */
        @Setup
        public void link() {
            NativeHeap heap = NativeHeap.plain(library);
            heap.free(heap.malloc(16));
        }

        @TearDown(Level.Iteration)
        public void drain() {
            NativeHeap heap = NativeHeap.plain(library);
            for (int i = 0; i < RING; i++) {
                long block = ring.getAndSet(i, 0);
                if (block != 0) {
                    heap.free(block);
                }
            }
        }
    }

    /** libc's ring. */
    @State(Scope.Group)
    public static class LibcRing extends NativeRing {
        public LibcRing() {
            super(NativeHeap.Library.LIBC);
        }
    }

    /** jemalloc's ring; its benchmarks only load jemalloc. */
    @State(Scope.Group)
    public static class JemallocRing extends NativeRing {
        public JemallocRing() {
            super(NativeHeap.Library.JEMALLOC);
        }
    }

    /** mimalloc's ring; its benchmarks only load mimalloc. */
    @State(Scope.Group)
    public static class MimallocRing extends NativeRing {
        public MimallocRing() {
            super(NativeHeap.Library.MIMALLOC);
        }
    }

    /** MemAlloc's ring: segments, null in an empty slot. */
    @State(Scope.Group)
    public static class MemAllocRing {
        final MemAlloc alloc = MemAlloc.global();
        final AtomicReferenceArray<MemorySegment> ring = new AtomicReferenceArray<>(RING);

        @TearDown(Level.Iteration)
        public void drain() {
            for (int i = 0; i < RING; i++) {
                MemorySegment block = ring.getAndSet(i, null);
                if (block != null) {
                    alloc.free(block);
                }
            }
        }
    }

    @Benchmark
    @Group("memAlloc")
    public long memAllocProduce(MemAllocRing ring, Cursor cursor, Control control) {
        MemorySegment block = ring.alloc.allocateUninitialized(sizes[(int) cursor.position & (SIZES - 1)], 16);
        int slot = cursor.slot();
        int spins = 0;
        while (ring.ring.getAcquire(slot) != null) {
            if (control.stopMeasurement) {
                ring.alloc.free(block);
                return 0;
            }
            backOff(++spins);
        }
        ring.ring.setRelease(slot, block);
        cursor.position++;
        return block.address();
    }

    @Benchmark
    @Group("memAlloc")
    public long memAllocConsume(MemAllocRing ring, Cursor cursor, Control control) {
        int slot = cursor.slot();
        MemorySegment block;
        int spins = 0;
        while ((block = ring.ring.getAcquire(slot)) == null) {
            if (control.stopMeasurement) {
                return 0;
            }
            backOff(++spins);
        }
        ring.ring.setRelease(slot, null);
        cursor.position++;
        ring.alloc.free(block);
        return block.address();
    }

    @Benchmark
    @Group("libc")
    public long libcProduce(LibcRing ring, Cursor cursor, Control control) {
        return produce(ring, cursor, control, NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    @Group("libc")
    public long libcConsume(LibcRing ring, Cursor cursor, Control control) {
        return consume(ring, cursor, control, NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    @Group("jemalloc")
    public long jemallocProduce(JemallocRing ring, Cursor cursor, Control control) {
        return produce(ring, cursor, control, NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    @Group("jemalloc")
    public long jemallocConsume(JemallocRing ring, Cursor cursor, Control control) {
        return consume(ring, cursor, control, NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    @Group("mimalloc")
    public long mimallocProduce(MimallocRing ring, Cursor cursor, Control control) {
        return produce(ring, cursor, control, NativeHeap.Mimalloc.PLAIN);
    }

    @Benchmark
    @Group("mimalloc")
    public long mimallocConsume(MimallocRing ring, Cursor cursor, Control control) {
        return consume(ring, cursor, control, NativeHeap.Mimalloc.PLAIN);
    }

    /**
     * Waits a little more for the other thread: spins, then, after {@value #PATIENCE} spins in a row (the other
     * thread is off its core, or still interpreted while the JIT compiles), parks for {@value #PARK_NANOS} ns at a
     * time, so that on 2 cores the JIT's threads get a core too. Steady state never gets that far.
     */
    private static void backOff(int spins) {
        if (spins < PATIENCE) {
            Thread.onSpinWait();
        } else {
            LockSupport.parkNanos(PARK_NANOS);
        }
    }

    /** A producer op; {@code heap} is a holder's constant, so that its downcalls fold once inlined. */
    private long produce(NativeRing ring, Cursor cursor, Control control, NativeHeap heap) {
        long block = heap.malloc(sizes[(int) cursor.position & (SIZES - 1)]);
        int slot = cursor.slot();
        int spins = 0;
        while (ring.ring.getAcquire(slot) != 0) {
            if (control.stopMeasurement) {
                heap.free(block);
                return 0;
            }
            backOff(++spins);
        }
        ring.ring.setRelease(slot, block);
        cursor.position++;
        return block;
    }

    /** A consumer op; {@code heap} as in {@link #produce}. */
    private static long consume(NativeRing ring, Cursor cursor, Control control, NativeHeap heap) {
        int slot = cursor.slot();
        long block;
        int spins = 0;
        while ((block = ring.ring.getAcquire(slot)) == 0) {
            if (control.stopMeasurement) {
                return 0;
            }
            backOff(++spins);
        }
        ring.ring.setRelease(slot, 0);
        cursor.position++;
        heap.free(block);
        return block;
    }
}
