package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * A server-like workload after Larson and Krishnan's benchmark: long-lived blocks of random sizes, replaced one at
 * a time, some of them freed by another thread than the one that allocated them.
 *
 * <p>Two arrays of {@value #SLOTS} slots, one per thread, are filled with blocks of 8..1000 bytes before the run
 * and freed after it. One op: the thread allocates a block of a random size in 8..1000 bytes, picks a slot (15
 * times in 16 in its own array, once in 16 in the other thread's), swaps the new block in with {@code getAndSet}
 * and frees the block it took out. With two threads, a block taken from the other thread's array was mostly
 * allocated by that thread: about 1 free in 16 is a cross-thread free. With one thread, both arrays are still used
 * the same way (thread 0 owns the first, and picks the second once in 16), so that the work is the same.
 *
 * <p>Sizes and picks come from a fixed seed per thread, precomputed and cycled (4096 of them). MemAlloc allocates
 * with {@code allocateUninitialized(size, 16)}, the counterpart of {@code malloc}, and keeps its blocks as
 * segments ({@code free} takes one); libc, jemalloc and mimalloc are called through plain (not critical) FFM
 * downcalls and keep addresses; {@code memAllocAddresses} is MemAlloc keeping addresses too. The score is ops per microsecond over all threads: {@code TwoThreads} scales
 * perfectly when it is twice the one-thread figure.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class Larson {
    /** Slots per array. */
    static final int SLOTS = 1000;
    private static final int MIN_SIZE = 8;
    private static final int MAX_SIZE = 1000;
    /** Precomputed sizes and picks per thread, cycled; a power of two. */
    private static final int PICKS = 4096;
    /** One pick in this many goes to the other thread's array. */
    private static final int REMOTE_EVERY = 16;

    /** One thread's sizes and slot picks, from a seed of its own. */
    @State(Scope.Thread)
    public static class Picks {
        final int[] sizes = new int[PICKS];
        /** A slot in the thread's own array ({@code 0..SLOTS-1}), or {@code SLOTS + i} for slot i of the other's. */
        final int[] slots = new int[PICKS];
        /** This thread's array, and the other thread's. */
        int own;
        int other;
        private int next;

        @Setup
        public void setUp(ThreadParams thread) {
            own = thread.getThreadIndex() & 1;
            other = own ^ 1;
            SplittableRandom random = new SplittableRandom(1_000 + thread.getThreadIndex());
            for (int i = 0; i < PICKS; i++) {
                sizes[i] = random.nextInt(MIN_SIZE, MAX_SIZE + 1);
                int slot = random.nextInt(SLOTS);
                slots[i] = i % REMOTE_EVERY == REMOTE_EVERY - 1 ? SLOTS + slot : slot;
            }
        }

        /** The index of the next size and pick. */
        int next() {
            return next++ & (PICKS - 1);
        }
    }

    /** The two arrays of blocks of a C allocator, full for the whole trial. */
    abstract static class NativeSlots {
        private final NativeHeap.Library library;
        private final AtomicLongArray first = new AtomicLongArray(SLOTS);
        private final AtomicLongArray second = new AtomicLongArray(SLOTS);

        NativeSlots(NativeHeap.Library library) {
            this.library = library;
        }

        AtomicLongArray array(int index) {
            return index == 0 ? first : second;
        }

        @Setup
        public void fill() {
            NativeHeap heap = NativeHeap.plain(library);
            SplittableRandom random = new SplittableRandom(42);
            for (AtomicLongArray array : new AtomicLongArray[] {first, second}) {
                for (int i = 0; i < SLOTS; i++) {
                    array.set(i, heap.malloc(random.nextInt(MIN_SIZE, MAX_SIZE + 1)));
                }
            }
        }

        @TearDown
        public void freeAll() {
            NativeHeap heap = NativeHeap.plain(library);
            for (AtomicLongArray array : new AtomicLongArray[] {first, second}) {
                for (int i = 0; i < SLOTS; i++) {
                    heap.free(array.getAndSet(i, 0));
                }
            }
        }
    }

    /** libc's blocks. */
    @State(Scope.Benchmark)
    public static class LibcSlots extends NativeSlots {
        public LibcSlots() {
            super(NativeHeap.Library.LIBC);
        }
    }

    /** jemalloc's blocks; loads jemalloc, so only its benchmarks use it. */
    @State(Scope.Benchmark)
    public static class JemallocSlots extends NativeSlots {
        public JemallocSlots() {
            super(NativeHeap.Library.JEMALLOC);
        }
    }

    /** mimalloc's blocks; loads mimalloc, so only its benchmarks use it. */
    @State(Scope.Benchmark)
    public static class MimallocSlots extends NativeSlots {
        public MimallocSlots() {
            super(NativeHeap.Library.MIMALLOC);
        }
    }

    /** MemAlloc's blocks, as the segments it handed out. */
    @State(Scope.Benchmark)
    public static class MemAllocSlots {
        final MemAlloc alloc = MemAlloc.global();
        private final AtomicReferenceArray<MemorySegment> first = new AtomicReferenceArray<>(SLOTS);
        private final AtomicReferenceArray<MemorySegment> second = new AtomicReferenceArray<>(SLOTS);

        AtomicReferenceArray<MemorySegment> array(int index) {
            return index == 0 ? first : second;
        }

        @Setup
        public void fill() {
            SplittableRandom random = new SplittableRandom(42);
            for (AtomicReferenceArray<MemorySegment> array : List.of(first, second)) {
                for (int i = 0; i < SLOTS; i++) {
                    array.set(i, alloc.allocateUninitialized(random.nextInt(MIN_SIZE, MAX_SIZE + 1), 16));
                }
            }
        }

        @TearDown
        public void freeAll() {
            for (AtomicReferenceArray<MemorySegment> array : List.of(first, second)) {
                for (int i = 0; i < SLOTS; i++) {
                    alloc.free(array.getAndSet(i, null));
                }
            }
        }
    }

    /**
     * MemAlloc's blocks as addresses, as a C allocator's are kept: the same work without a segment per slot for the
     * collector to trace and move, so that the allocator is measured apart from the GC. A global-scope segment of
     * the address ({@code MemorySegment.ofAddress}) frees it, as native code handing back a pointer would.
     */
    @State(Scope.Benchmark)
    public static class MemAllocAddressSlots {
        final MemAlloc alloc = MemAlloc.global();
        private final AtomicLongArray first = new AtomicLongArray(SLOTS);
        private final AtomicLongArray second = new AtomicLongArray(SLOTS);

        AtomicLongArray array(int index) {
            return index == 0 ? first : second;
        }

        @Setup
        public void fill() {
            SplittableRandom random = new SplittableRandom(42);
            for (AtomicLongArray array : new AtomicLongArray[] {first, second}) {
                for (int i = 0; i < SLOTS; i++) {
                    array.set(i, alloc.allocateUninitialized(random.nextInt(MIN_SIZE, MAX_SIZE + 1), 16).address());
                }
            }
        }

        @TearDown
        public void freeAll() {
            for (AtomicLongArray array : new AtomicLongArray[] {first, second}) {
                for (int i = 0; i < SLOTS; i++) {
                    alloc.free(MemorySegment.ofAddress(array.getAndSet(i, 0)));
                }
            }
        }
    }

    @Benchmark
    @Threads(1)
    public long memAlloc(MemAllocSlots slots, Picks picks) {
        return replace(slots, picks);
    }

    @Benchmark
    @Threads(2)
    public long memAllocTwoThreads(MemAllocSlots slots, Picks picks) {
        return replace(slots, picks);
    }

    @Benchmark
    @Threads(1)
    public long memAllocAddresses(MemAllocAddressSlots slots, Picks picks) {
        return replace(slots, picks);
    }

    @Benchmark
    @Threads(2)
    public long memAllocAddressesTwoThreads(MemAllocAddressSlots slots, Picks picks) {
        return replace(slots, picks);
    }

    @Benchmark
    @Threads(1)
    public long libc(LibcSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    @Threads(2)
    public long libcTwoThreads(LibcSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Libc.PLAIN);
    }

    @Benchmark
    @Threads(1)
    public long jemalloc(JemallocSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    @Threads(2)
    public long jemallocTwoThreads(JemallocSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Jemalloc.PLAIN);
    }

    @Benchmark
    @Threads(1)
    public long mimalloc(MimallocSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Mimalloc.PLAIN);
    }

    @Benchmark
    @Threads(2)
    public long mimallocTwoThreads(MimallocSlots slots, Picks picks) {
        return replace(slots, picks, NativeHeap.Mimalloc.PLAIN);
    }

    /** One op on MemAlloc with addresses in the slots; returns the new block's address. */
    private static long replace(MemAllocAddressSlots slots, Picks picks) {
        int i = picks.next();
        long block = slots.alloc.allocateUninitialized(picks.sizes[i], 16).address();
        int slot = picks.slots[i];
        boolean own = slot < SLOTS;
        AtomicLongArray array = slots.array(own ? picks.own : picks.other);
        slots.alloc.free(MemorySegment.ofAddress(array.getAndSet(own ? slot : slot - SLOTS, block)));
        return block;
    }

    /** One op on MemAlloc; returns the new block's address. */
    private static long replace(MemAllocSlots slots, Picks picks) {
        int i = picks.next();
        MemorySegment block = slots.alloc.allocateUninitialized(picks.sizes[i], 16);
        int slot = picks.slots[i];
        boolean own = slot < SLOTS;
        AtomicReferenceArray<MemorySegment> array = slots.array(own ? picks.own : picks.other);
        slots.alloc.free(array.getAndSet(own ? slot : slot - SLOTS, block));
        return block.address();
    }

    /** One op on a C allocator; {@code heap} is a holder's constant, so that its downcalls fold once inlined. */
    private static long replace(NativeSlots slots, Picks picks, NativeHeap heap) {
        int i = picks.next();
        long block = heap.malloc(picks.sizes[i]);
        int slot = picks.slots[i];
        boolean own = slot < SLOTS;
        AtomicLongArray array = slots.array(own ? picks.own : picks.other);
        heap.free(array.getAndSet(own ? slot : slot - SLOTS, block));
        return block;
    }
}
