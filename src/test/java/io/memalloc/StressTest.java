package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Load: several threads hammering one allocator for a fixed time, every byte they own checked.
 *
 * <p>Each test runs for {@code memallocTests.soakSeconds} seconds (2 by default, so that CI pays a few seconds per test),
 * and at least a fixed number of operations per thread whatever the clock says, so that a slow machine still does
 * the whole mix. A long soak sets the property on the command line, which the POM hands to Surefire's forked JVM:
 *
 * <pre>
 * ./build -DmemallocTests.soakSeconds=60 -Dtest=StressTest test
 * </pre>
 *
 * <p>The class has six tests, so a soak of N seconds takes about 6N seconds; Surefire's limit on the forked JVM
 * (900 s, {@code forkedProcessTimeoutInSeconds} in the POM) bounds N to about 140 in one run.
 *
 * <p>What each test asserts does not depend on timing: every block holds its own byte, checked before it is freed
 * and after it is moved; fresh zeroed memory reads as zero; alignments are met; at the end the heap verifies and
 * its counters come back to where they were. Each test logs its figures (threads, operations, seconds) through
 * {@link System.Logger} at DEBUG, which the console does not print by default, so that a passing build stays quiet;
 * the POM's {@code figures} profile prints them (with {@code src/test/logging/figures.properties}):
 *
 * <pre>
 * ./build -Pfigures -DmemallocTests.soakSeconds=60 -Dtest=StressTest test
 * </pre>
 */
class StressTest {
    private static final System.Logger LOG = System.getLogger(StressTest.class.getName());
    private static final int THREADS = 4;

    // ---------------------------------------------------------------------------------------------------------
    // a. Random allocate / free / reallocate, with blocks handed to other threads to free or resize.

    /** Operations each thread does at least, whatever the clock says. */
    private static final int MIN_OPERATIONS = 4_000;
    /** Blocks each thread holds at most; past that it frees instead of allocating. */
    private static final int MAX_LIVE = 128;
    /** Blocks waiting in the hand-off queue at most. */
    private static final int MAX_HANDED_OFF = 256;
    /** Every LARGE_EVERY-th operation of a thread allocates a block above half a region. */
    private static final int LARGE_EVERY = 200;
    /** Regions of the private allocators: small, so that regions come and go and large blocks stay cheap. */
    private static final long PRIVATE_REGION = 256 * 1024;

    /** A live block: its segment, the alignment it was asked with, the byte it holds, and the thread that made it. */
    private record Block(MemorySegment segment, long alignment, int value, int owner) {}

    /** What the threads of one test did, summed. */
    private static final class Counts {
        final LongAdder operations = new LongAdder();
        final LongAdder allocations = new LongAdder();
        final LongAdder largeAllocations = new LongAdder();
        final LongAdder frees = new LongAdder();
        final LongAdder reallocations = new LongAdder();
        final LongAdder moved = new LongAdder();
        final LongAdder crossThread = new LongAdder();
        final LongAdder bytesChecked = new LongAdder();
    }

    @ParameterizedTest(name = "hardened {0}")
    @ValueSource(booleans = {false, true})
    void privateAllocatorUnderRandomTrafficFromFourThreads(boolean hardened) throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(PRIVATE_REGION).stripes(2).cachedRegions(0)
                .hardened(hardened).build()) {
            randomTraffic(alloc, PRIVATE_REGION / 2 + 1, 3 * PRIVATE_REGION / 2,
                    (hardened ? "hardened " : "") + "private allocator, 256 KiB regions");

            alloc.verifyHeap();
            AllocatorStats stats = alloc.stats();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.allocatedBytes()).isZero();
            assertThat(stats.largeBlockCount()).isZero();
            // A hardened heap's quarantine holds the last blocks freed, and their regions, until a trim; the pages of
            // the ended threads go back once MemAlloc finds them ended.
            EndedThreads.awaitRegionsGivenBack(alloc);
            alloc.verifyHeap();
            assertThat(alloc.stats().mappedBytes()).isZero();
        }
    }

    /**
     * The global allocator's counters once nothing dropped earlier is left to collect. Arenas that other tests
     * dropped (automatic ones, and ones left unclosed on purpose) give their memory back when the collector finds
     * them, on a cleaner thread, which would otherwise change the global counts in the middle of a test. The pool of
     * first chunks goes back to the heap too (trim), so that counts taken before and after compare.
     */
    private static AllocatorStats settledGlobalStats() throws InterruptedException {
        MemAlloc global = MemAlloc.global();
        AllocatorStats last = null;
        for (int round = 0; round < 100; round++) {
            System.gc();
            Thread.sleep(10);
            global.trim();
            AllocatorStats now = global.stats();
            if (last != null && now.liveAllocations() == last.liveAllocations()
                    && now.allocatedBytes() == last.allocatedBytes()) {
                return now;
            }
            last = now;
        }
        throw new AssertionError("the global allocator's counts did not settle within 100 collections: " + last);
    }

    @Test
    void globalAllocatorUnderRandomTrafficFromFourThreads() throws Exception {
        MemAlloc global = MemAlloc.global();
        long region = 4L * 1024 * 1024;
        AllocatorStats before = settledGlobalStats();
        randomTraffic(global, region / 2 + 1, region / 2 + region / 4, "MemAlloc.global(), 4 MiB regions");

        global.verifyHeap();
        AllocatorStats after = settledGlobalStats();
        assertThat(after.liveAllocations()).isEqualTo(before.liveAllocations());
        assertThat(after.allocatedBytes()).isEqualTo(before.allocatedBytes());
        assertThat(after.largeBlockCount()).isEqualTo(before.largeBlockCount());
    }

    /**
     * Runs the random traffic on {@code alloc} from {@link #THREADS} threads, then frees what is left in the hand-off
     * queue, checked, and logs the figures.
     *
     * @param largeMin the smallest large block: above half a region, so above the large threshold (half a region,
     *                 at most 1 MiB) at any region size
     * @param largeMax the largest one
     */
    private static void randomTraffic(MemAlloc alloc, long largeMin, long largeMax, String what) throws Exception {
        Counts counts = new Counts();
        ConcurrentLinkedQueue<Block> handedOff = new ConcurrentLinkedQueue<>();
        AtomicInteger handedOffCount = new AtomicInteger();
        long nanos = runOnThreads(THREADS, index -> () -> {
            traffic(alloc, index, largeMin, largeMax, handedOff, handedOffCount, counts);
            return null;
        });
        for (Block block : handedOff) {
            free(alloc, block, counts);
        }
        report("random traffic on " + what, THREADS, counts.operations.sum(), nanos, String.format(
                "%,d allocations (%,d large), %,d frees, %,d reallocations (%,d moved), %,d blocks freed or resized"
                        + " by another thread, %,d MiB checked", counts.allocations.sum(),
                counts.largeAllocations.sum(), counts.frees.sum(), counts.reallocations.sum(), counts.moved.sum(),
                counts.crossThread.sum(), counts.bytesChecked.sum() >> 20));
        assertThat(counts.operations.sum()).isGreaterThanOrEqualTo((long) THREADS * MIN_OPERATIONS);
        assertThat(counts.frees.sum()).as("every block allocated freed once").isEqualTo(counts.allocations.sum());
        assertThat(counts.largeAllocations.sum()).isGreaterThanOrEqualTo(THREADS * (MIN_OPERATIONS / LARGE_EVERY));
        assertThat(counts.reallocations.sum()).isPositive();
        assertThat(counts.crossThread.sum()).as("blocks freed or resized by a thread that did not make them")
                .isPositive();
    }

    private static void traffic(MemAlloc alloc, int index, long largeMin, long largeMax,
                                ConcurrentLinkedQueue<Block> handedOff, AtomicInteger handedOffCount,
                                Counts counts) {
        Random random = new Random(index * 7919L + 1);
        List<Block> live = new ArrayList<>();
        long deadline = Soak.deadline();
        int op = 0;
        for (; op < MIN_OPERATIONS || !Soak.over(deadline); op++) {
            int choice = random.nextInt(100);
            if (op % LARGE_EVERY == 0) {
                long size = largeMin + (long) (random.nextDouble() * (largeMax - largeMin));
                live.add(allocate(alloc, random, size, index, counts));
                counts.largeAllocations.increment();
            } else if (live.isEmpty() || (choice < 40 && live.size() < MAX_LIVE)) {
                live.add(allocate(alloc, random, smallSize(random), index, counts));
            } else if (choice < 65) {
                free(alloc, live.remove(random.nextInt(live.size())), counts);
            } else if (choice < 80) {
                int i = random.nextInt(live.size());
                live.set(i, reallocate(alloc, live.get(i), random, largeMin, counts));
            } else if (choice < 92) {
                Block other = handedOff.poll();
                if (other == null) {
                    continue;
                }
                handedOffCount.decrementAndGet();
                if (other.owner() != index) {
                    counts.crossThread.increment();
                }
                if (random.nextBoolean()) {
                    free(alloc, other, counts);
                } else {
                    live.add(reallocate(alloc, other, random, largeMin, counts));
                }
            } else if (handedOffCount.get() < MAX_HANDED_OFF) {
                handedOffCount.incrementAndGet();
                handedOff.add(live.remove(random.nextInt(live.size())));
            }
            while (live.size() > MAX_LIVE) {
                free(alloc, live.remove(random.nextInt(live.size())), counts);
            }
        }
        for (Block block : live) {
            free(alloc, block, counts);
        }
        counts.operations.add(op);
    }

    /** Sizes from 0 to 64 KiB, most of them small. */
    private static long smallSize(Random random) {
        int bucket = random.nextInt(10);
        return bucket < 6 ? random.nextInt(257) : bucket < 9 ? random.nextInt(4097) : random.nextInt(65_537);
    }

    /** Alignments from 1 to 64 KiB, most of them 16 or less. */
    private static long alignment(Random random) {
        int bucket = random.nextInt(10);
        return bucket < 6 ? 1L << random.nextInt(5)
                : bucket < 9 ? 1L << random.nextInt(13) : 1L << (13 + random.nextInt(4));
    }

    private static Block allocate(MemAlloc alloc, Random random, long size, int owner, Counts counts) {
        long alignment = alignment(random);
        boolean zeroed = random.nextBoolean();
        MemorySegment segment = zeroed ? alloc.allocate(size, alignment) : alloc.allocateUninitialized(size, alignment);
        assertThat(segment.byteSize()).isEqualTo(size);
        assertThat(segment.address() % alignment).as("address 0x%x at alignment %d", segment.address(), alignment)
                .isZero();
        if (zeroed) {
            assertThat(Contents.firstMismatch(segment, 0)).as("fresh zeroed block of %d bytes at 0x%x", size,
                    segment.address()).isEqualTo(-1);
        }
        int value = 1 + random.nextInt(255);
        Contents.fill(segment, value);
        counts.allocations.increment();
        return new Block(segment, alignment, value, owner);
    }

    private static void free(MemAlloc alloc, Block block, Counts counts) {
        assertIntact(block, counts);
        alloc.free(block.segment());
        counts.frees.increment();
    }

    /** Resizes a block: its content is kept up to the smaller size, growth reads as zero, its alignment stays. */
    private static Block reallocate(MemAlloc alloc, Block block, Random random, long largeMin, Counts counts) {
        assertIntact(block, counts);
        long oldSize = block.segment().byteSize();
        long newSize = random.nextInt(50) == 0 ? largeMin + random.nextInt(65_536) : smallSize(random);
        MemorySegment resized = alloc.reallocate(block.segment(), newSize);
        assertThat(resized.byteSize()).isEqualTo(newSize);
        assertThat(resized.address() % block.alignment()).as("alignment %d kept", block.alignment()).isZero();
        long kept = Math.min(oldSize, newSize);
        assertThat(Contents.firstMismatch(resized, kept, block.value()))
                .as("content kept from 0x%x (%d bytes) to 0x%x (%d bytes)", block.segment().address(), oldSize,
                        resized.address(), newSize).isEqualTo(-1);
        if (newSize > oldSize) {
            assertThat(Contents.firstMismatch(resized.asSlice(oldSize), 0)).as("growth from %d to %d bytes",
                    oldSize, newSize).isEqualTo(-1);
        }
        if (resized.address() != block.segment().address()) {
            counts.moved.increment();
        }
        int value = 1 + random.nextInt(255);
        Contents.fill(resized, value);
        counts.reallocations.increment();
        counts.bytesChecked.add(kept);
        return new Block(resized, block.alignment(), value, block.owner());
    }

    private static void assertIntact(Block block, Counts counts) {
        assertThat(Contents.firstMismatch(block.segment(), block.value()))
                .as("block at 0x%x of %d bytes, filled with %d", block.segment().address(),
                        block.segment().byteSize(), block.value()).isEqualTo(-1);
        counts.bytesChecked.add(block.segment().byteSize());
    }

    // ---------------------------------------------------------------------------------------------------------
    // b. Arenas opened, used and closed by several threads at once, on the global allocator and a private one.

    /** Arenas each thread opens at least, whatever the clock says. */
    private static final int MIN_ARENAS = 400;

    /** The four kinds of arena the threads open in turn. */
    private enum ArenaKind {
        GLOBAL_CONFINED,
        GLOBAL_SHARED,
        PRIVATE_CONFINED,
        PRIVATE_SHARED;

        MemArena open(MemAlloc alloc) {
            return switch (this) {
                case GLOBAL_CONFINED -> MemArena.ofConfined();
                case GLOBAL_SHARED -> MemArena.ofShared();
                case PRIVATE_CONFINED -> alloc.newConfinedArena();
                case PRIVATE_SHARED -> alloc.newSharedArena();
            };
        }
    }

    @ParameterizedTest(name = "hardened {0}")
    @ValueSource(booleans = {false, true})
    void arenasOpenedUsedAndClosedByFourThreadsAtOnce(boolean hardened) throws Exception {
        MemAlloc global = MemAlloc.global();
        AllocatorStats globalBefore = settledGlobalStats();
        try (MemAlloc alloc = MemAlloc.builder().regionSize(PRIVATE_REGION).stripes(2).hardened(hardened).build()) {
            LongAdder arenas = new LongAdder();
            LongAdder segments = new LongAdder();
            LongAdder bytes = new LongAdder();
            long nanos = runOnThreads(THREADS, index -> () -> {
                Random random = new Random(index * 31L + 7);
                long deadline = Soak.deadline();
                int opened = 0;
                for (; opened < MIN_ARENAS || !Soak.over(deadline); opened++) {
                    ArenaKind kind = ArenaKind.values()[(opened + index) % ArenaKind.values().length];
                    useArena(kind, kind.open(alloc), random, index, segments, bytes);
                }
                arenas.add(opened);
                return null;
            });
            report("arenas (confined and shared; global and " + (hardened ? "hardened " : "") + "private)",
                    THREADS, arenas.sum(), nanos, String.format("%,d segments, %,d MiB allocated, zeroing and"
                            + " content checked", segments.sum(), bytes.sum() >> 20));
            assertThat(arenas.sum()).isGreaterThanOrEqualTo((long) THREADS * MIN_ARENAS);

            alloc.verifyHeap();
            alloc.trim();
            alloc.verifyHeap();
            AllocatorStats stats = alloc.stats();
            assertThat(stats.allocatedBytes()).as("private allocator after trim").isZero();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.mappedBytes()).isZero();
        }
        global.verifyHeap();
        AllocatorStats globalAfter = settledGlobalStats();
        assertThat(globalAfter.liveAllocations()).as("global allocator after trim")
                .isEqualTo(globalBefore.liveAllocations());
        assertThat(globalAfter.allocatedBytes()).isEqualTo(globalBefore.allocatedBytes());
    }

    /**
     * Allocates up to 40 segments in {@code arena}, each checked for zero (unless asked uninitialized), size,
     * alignment and scope, and filled; checks them all again, closes the arena, and checks that its segments died.
     */
    private static void useArena(ArenaKind kind, MemArena arena, Random random, int index, LongAdder segments,
                                 LongAdder bytes) {
        List<MemorySegment> mine = new ArrayList<>();
        List<Integer> values = new ArrayList<>();
        try (arena) {
            int count = 1 + random.nextInt(40);
            for (int i = 0; i < count; i++) {
                int bucket = random.nextInt(20);
                // Now and then bigger than a first chunk (16 KiB): a block of its own.
                long size = bucket < 14 ? random.nextInt(513) : bucket < 19 ? random.nextInt(8193)
                        : 16 * 1024 + random.nextInt(24 * 1024);
                long alignment = random.nextInt(4) == 0 ? 1L << random.nextInt(13) : 1L << random.nextInt(5);
                boolean zeroed = random.nextInt(4) != 0;
                MemorySegment segment = zeroed ? arena.allocate(size, alignment)
                        : arena.allocateUninitialized(size, alignment);
                assertThat(segment.byteSize()).isEqualTo(size);
                assertThat(segment.address() % alignment).isZero();
                assertThat(segment.scope()).isEqualTo(arena.scope());
                if (zeroed) {
                    assertThat(Contents.firstMismatch(segment, 0))
                            .as("%s arena: %d bytes at alignment %d", kind, size, alignment).isEqualTo(-1);
                }
                int value = 1 + ((index * 64 + i) % 255);
                Contents.fill(segment, value);
                mine.add(segment);
                values.add(value);
                bytes.add(size);
            }
            for (int i = 0; i < mine.size(); i++) {
                assertThat(Contents.firstMismatch(mine.get(i), values.get(i)))
                        .as("%s arena: segment %d of %d bytes", kind, i, mine.get(i).byteSize()).isEqualTo(-1);
            }
        }
        segments.add(mine.size());
        MemorySegment last = mine.get(mine.size() - 1);
        assertThatThrownBy(() -> last.fill((byte) 1)).isInstanceOf(IllegalStateException.class);
    }

    // ---------------------------------------------------------------------------------------------------------
    // c. A shared arena closed by one thread while three others allocate from it and use their segments.

    /** Rounds (one arena each) at least, whatever the clock says. */
    private static final int MIN_ROUNDS = 20;
    /** Allocations each worker has made before the arena may close. */
    private static final int ALLOCATIONS_BEFORE_CLOSE = 100;
    /** Allocations each worker makes at most in one arena; past that it only reads and writes what it has. */
    private static final int MAX_ALLOCATIONS = 5_000;
    private static final int WORKERS = THREADS - 1;

    /**
     * How a worker ended: where it saw the arena closed, what it did before, a segment of it (not empty) to check
     * that it died, and whether the close left the worker's interrupt status set.
     */
    private record WorkerEnd(boolean inAllocate, long allocations, long accesses, MemorySegment kept,
                             boolean leftInterrupted) {}

    @Test
    void aSharedArenaClosedWhileThreeThreadsAllocateAndUseItGivesOnlyIllegalStateException() throws Exception {
        MemAlloc global = MemAlloc.global();
        AllocatorStats globalBefore = settledGlobalStats();
        try (MemAlloc alloc = MemAlloc.builder().regionSize(PRIVATE_REGION).stripes(2).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
            long allocations = 0;
            long accesses = 0;
            long closedInAllocate = 0;
            long closedInAccess = 0;
            long leftInterrupted = 0;
            int round = 0;
            long start = System.nanoTime();
            try {
                long deadline = Soak.deadline();
                for (; round < MIN_ROUNDS || !Soak.over(deadline); round++) {
                    MemArena arena = round % 2 == 0 ? MemArena.ofShared() : alloc.newSharedArena();
                    for (WorkerEnd end : closeWhileInUse(arena, pool, round)) {
                        allocations += end.allocations();
                        accesses += end.accesses();
                        leftInterrupted += end.leftInterrupted() ? 1 : 0;
                        if (end.inAllocate()) {
                            closedInAllocate++;
                        } else {
                            closedInAccess++;
                        }
                        assertThat(end.allocations()).isGreaterThanOrEqualTo(ALLOCATIONS_BEFORE_CLOSE);
                        assertThatThrownBy(() -> end.kept().get(JAVA_BYTE, 0))
                                .isInstanceOf(IllegalStateException.class);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            report("shared arenas closed while in use (global and private, alternately)", THREADS, round,
                    System.nanoTime() - start, String.format("%,d rounds of %d workers and a closer: %,d"
                            + " allocations, %,d segment reads and writes; each worker saw the close as"
                            + " IllegalStateException, %,d in allocate and %,d in a segment access; %,d left"
                            + " interrupted by the JDK's close (a JDK 25 behaviour)", round, WORKERS, allocations, accesses,
                            closedInAllocate, closedInAccess, leftInterrupted));
            assertThat(closedInAllocate + closedInAccess).isEqualTo((long) round * WORKERS);

            alloc.verifyHeap();
            alloc.trim();
            alloc.verifyHeap();
            assertThat(alloc.stats().allocatedBytes()).isZero();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
        }
        global.verifyHeap();
        AllocatorStats globalAfter = settledGlobalStats();
        assertThat(globalAfter.liveAllocations()).isEqualTo(globalBefore.liveAllocations());
        assertThat(globalAfter.allocatedBytes()).isEqualTo(globalBefore.allocatedBytes());
    }

    /**
     * Starts {@link #WORKERS} workers on {@code arena}; once each has allocated {@link #ALLOCATIONS_BEFORE_CLOSE}
     * segments, closes it from this thread while they go on; returns how each ended. A worker ends only on an
     * {@link IllegalStateException} from a closed arena, so each was running when the close came.
     */
    private static List<WorkerEnd> closeWhileInUse(MemArena arena, ExecutorService pool, int round)
            throws Exception {
        AtomicLongArray made = new AtomicLongArray(WORKERS);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<WorkerEnd>> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            int worker = w;
            workers.add(pool.submit(() -> {
                start.await();
                return useUntilClosed(arena, worker, new Random(round * 131L + worker), made);
            }));
        }
        start.countDown();
        long guard = System.nanoTime() + TimeUnit.SECONDS.toNanos(Soak.hangGuardSeconds());
        for (int w = 0; w < WORKERS; w++) {
            while (made.get(w) < ALLOCATIONS_BEFORE_CLOSE) {
                assertThat(System.nanoTime() - guard).as("worker %d never got going", w).isNegative();
                if (workers.get(w).isDone()) {
                    workers.get(w).get(); // it failed: its exception fails the test
                }
                Thread.onSpinWait();
            }
        }
        arena.close();
        List<WorkerEnd> ends = new ArrayList<>();
        for (Future<WorkerEnd> worker : workers) {
            ends.add(worker.get(Soak.hangGuardSeconds(), TimeUnit.SECONDS));
        }
        return ends;
    }

    /**
     * Allocates from {@code arena} and writes and reads back its segments, each filled with its own byte, until the
     * arena is closed under it.
     */
    private static WorkerEnd useUntilClosed(MemArena arena, int worker, Random random, AtomicLongArray made) {
        MemorySegment[] mine = new MemorySegment[16]; // the last 16 allocated, in a ring
        int[] values = new int[mine.length];
        long allocations = 0;
        long accesses = 0;
        MemorySegment kept = null;
        boolean inAllocate = false;
        try {
            while (true) {
                if (allocations < MAX_ALLOCATIONS) {
                    long size = random.nextInt(64) == 0 ? 20 * 1024 : random.nextInt(1025);
                    inAllocate = true;
                    MemorySegment segment = arena.allocate(size, 1L << random.nextInt(7));
                    inAllocate = false;
                    if (kept == null && size > 0) {
                        kept = segment;
                    }
                    assertThat(Contents.firstMismatch(segment, 0)).as("a fresh segment of %d bytes", size)
                            .isEqualTo(-1);
                    int slot = (int) (allocations % mine.length);
                    values[slot] = 1 + (int) ((worker * 85L + allocations) % 255);
                    Contents.fill(segment, values[slot]);
                    mine[slot] = segment;
                    allocations++;
                    made.set(worker, allocations);
                }
                int i = random.nextInt((int) Math.min(allocations, mine.length));
                assertThat(Contents.firstMismatch(mine[i], values[i]))
                        .as("worker %d, a segment of %d bytes", worker, mine[i].byteSize()).isEqualTo(-1);
                values[i] = values[i] % 255 + 1;
                Contents.fill(mine[i], values[i]);
                accesses += 2;
            }
        } catch (IllegalStateException closed) {
            assertThat(arena.scope().isAlive()).as("an IllegalStateException from an open arena: %s", closed)
                    .isFalse();
            // The JDK stops a thread in a segment access with an asynchronous exception when another closes the
            // arena, and on JDK 25 may leave its interrupt status set (seen with a plain Arena.ofShared(), no
            // MemAlloc code). Cleared here (the pool would clear it before its next task anyway) and counted.
            return new WorkerEnd(inAllocate, allocations, accesses, kept, Thread.interrupted());
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /**
     * Runs {@code task} on {@code threads} new threads released together, and waits for them all, each failure
     * failing the test.
     *
     * @return the nanoseconds from their release to the last one's end
     */
    private static long runOnThreads(int threads, IntFunction<Callable<Void>> task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Void>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<Void> work = task.apply(t);
                futures.add(pool.submit(() -> {
                    start.await();
                    return work.call();
                }));
            }
            long started = System.nanoTime();
            start.countDown();
            for (Future<Void> future : futures) {
                future.get(Soak.hangGuardSeconds(), TimeUnit.SECONDS);
            }
            return System.nanoTime() - started;
        } finally {
            pool.shutdownNow();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    /** Logs one test's figures, for the reliability page: at DEBUG, printed with {@code ./build -Pfigures}. */
    private static void report(String what, int threads, long operations, long nanos, String details) {
        double seconds = nanos / 1e9;
        LOG.log(System.Logger.Level.DEBUG, String.format("StressTest %s: %d threads, %,d operations in %.1f s"
                + " (%,.0f per second); %s", what, threads, operations, seconds, operations / seconds, details));
    }
}
