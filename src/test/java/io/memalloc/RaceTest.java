package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Races at the spots where two threads meet inside the allocator, each run many times: the role jcstress plays for
 * JDK code.
 *
 * <p>Each race has two actors. For every iteration a fresh state is set up, both actors are released at the same
 * instant (each announces itself and spins until the other has: a spin barrier, tighter than a lock or a latch,
 * whose wake-up takes microseconds), and each returns its outcome as a word; the pair of words must be in the
 * race's allowed set, and the heap is checked after each iteration. The outcomes seen are counted and logged, as
 * jcstress does (through {@link System.Logger} at DEBUG, which the console does not print by default, so that a
 * passing build stays quiet; {@code ./build -Pfigures -Dtest=RaceTest test} prints them). An iteration count (1,000
 * per second of {@code memallocTests.soakSeconds}, so 2,000 by default) and the soak time bound each race, whichever comes
 * first; at least {@link #MIN_ITERATIONS} run whatever the clock says.
 *
 * <p>Why not jcstress itself: it is not a JUnit engine but a harness of its own (an annotation processor that
 * generates the test classes, an uber-jar run by its own main, forked JVMs per test configuration), so it would need
 * a separate build step and module and its own run in CI, with the native-access flags passed through its forks;
 * and a run that means something takes minutes. The issue accepts "jcstress or equivalent": this harness is the
 * equivalent, run by Surefire with the other tests. What it lacks is jcstress's control of JIT modes and its
 * variety of thread placement; the iterations partly make up for it, and a soak
 * ({@code ./build -DmemallocTests.soakSeconds=60 -Dtest=RaceTest test}) runs each race for up to 60,000 iterations or a
 * minute.
 */
class RaceTest {
    private static final System.Logger LOG = System.getLogger(RaceTest.class.getName());
    @RegisterExtension
    final LogCapture log = new LogCapture();
    private static final int MIN_ITERATIONS = 100;
    private static final long REGION = 64 * 1024;

    private ExecutorService other;

    @BeforeEach
    void startTheOtherThread() {
        other = Executors.newSingleThreadExecutor();
    }

    @AfterEach
    void stopTheOtherThread() throws InterruptedException {
        other.shutdownNow();
        assertThat(other.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    // ---------------------------------------------------------------------------------------------------------
    // The harness.

    /** Two actors on the state of one iteration. */
    private interface Race<S> {
        /** Sets up the state of iteration {@code i}. */
        S setUp(int i);

        /** The first actor, run on this thread: returns its outcome. */
        String actor1(S state);

        /** The second actor, run on the other thread. */
        String actor2(S state);

        /** Checks the heap after both actors are done, knowing what each did. */
        void check(S state, String outcome1, String outcome2);
    }

    /**
     * Runs {@code race} until its iteration count or the soak time is reached; fails on an outcome not in
     * {@code allowed} ({@code "outcome1 | outcome2"}), or whatever a check throws.
     *
     * @return how many times each outcome was seen
     */
    private <S> Map<String, Integer> run(String name, Race<S> race, Set<String> allowed) throws Exception {
        long maxIterations = 1000 * Soak.seconds();
        long deadline = Soak.deadline();
        Map<String, Integer> seen = new TreeMap<>();
        long start = System.nanoTime();
        int i = 0;
        for (; i < MIN_ITERATIONS || (i < maxIterations && !Soak.over(deadline)); i++) {
            S state = race.setUp(i);
            AtomicInteger arrived = new AtomicInteger();
            Future<String> second = other.submit(() -> {
                await(arrived);
                return race.actor2(state);
            });
            await(arrived);
            String outcome1 = race.actor1(state);
            String outcome2 = second.get(Soak.hangGuardSeconds(), TimeUnit.SECONDS);
            String outcome = outcome1 + " | " + outcome2;
            assertThat(allowed).as("%s, iteration %d: outcome '%s'", name, i, outcome).contains(outcome);
            seen.merge(outcome, 1, Integer::sum);
            race.check(state, outcome1, outcome2);
        }
        LOG.log(System.Logger.Level.DEBUG, String.format("RaceTest %s: %,d iterations in %.1f s, outcomes %s", name,
                i, (System.nanoTime() - start) / 1e9, seen));
        return seen;
    }

    /** The spin barrier: announces this thread, then spins until both are there. */
    private static void await(AtomicInteger arrived) {
        arrived.incrementAndGet();
        long guard = System.nanoTime() + TimeUnit.SECONDS.toNanos(Soak.hangGuardSeconds());
        for (int spins = 0; arrived.get() < 2; spins++) {
            if (spins > 10_000) {
                LockSupport.parkNanos(1_000); // two cores, shared: the other thread may need this one
                if (System.nanoTime() - guard > 0) {
                    throw new IllegalStateException("the other actor never arrived");
                }
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Runs {@code action} and names its outcome: {@code ok}, or the simple name of what it threw. */
    private static String outcome(Runnable action, String ok) {
        try {
            action.run();
            return ok;
        } catch (IllegalArgumentException | IllegalStateException e) {
            return e.getClass().getSimpleName();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // a. Two threads freeing neighbouring blocks that merge.

    /** Above the small blocks' 1 KiB: blocks of a stripe, which merge with their free neighbours. */
    private static final long BLOCK = 1100;

    /**
     * A region filled with blocks of {@link #BLOCK} bytes, each holding its own byte, and nothing else mapped: a
     * request for two or three blocks' worth then fits only where neighbours merged.
     */
    private static final class FullRegion {
        final List<MemorySegment> blocks = new ArrayList<>();
        final MemAlloc alloc;

        FullRegion(MemAlloc alloc) {
            this.alloc = alloc;
            long region = -1;
            while (true) {
                MemorySegment block = alloc.allocate(BLOCK, 16);
                long base = block.address() & -REGION;
                if (region != -1 && base != region) {
                    alloc.free(block); // the region it opened empties and is unmapped: no cached regions
                    break;
                }
                region = base;
                Contents.fill(block, blocks.size() + 1);
                blocks.add(block);
            }
            assertThat(alloc.stats().regionCount()).isEqualTo(1);
        }

        /** Allocates again the blocks at {@code from} and after, as freed: they must come back where they were. */
        void refill(int from, int count) {
            for (int j = from; j < from + count; j++) {
                MemorySegment block = alloc.allocate(BLOCK, 16);
                assertThat(block.address()).as("block %d allocated again", j).isEqualTo(blocks.get(j).address());
                Contents.fill(block, j + 1);
                blocks.set(j, block);
            }
        }

        void assertIntact() {
            for (int j = 0; j < blocks.size(); j++) {
                assertThat(Contents.firstMismatch(blocks.get(j), j + 1)).as("block %d", j).isEqualTo(-1);
            }
        }
    }

    @Test
    void twoThreadsFreeingNeighboursThatMergeLeaveOneFreeBlock() throws Exception {
        // One stripe, so that both frees go through the same lists; no cached regions, so that nothing else is free
        // but the region's short tail.
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(1).cachedRegions(0).build()) {
            FullRegion region = new FullRegion(alloc);
            int n = region.blocks.size();
            assertThat(n).isGreaterThan(8);
            // Even iterations: blocks p and p+1, their outer neighbours in use, merge into one of two blocks.
            // Odd ones: p+1 is free already, and p and p+2 merge with it from either side into one of three.
            Race<int[]> race = new Race<>() {
                @Override
                public int[] setUp(int i) {
                    int p = 1 + i % (n - 4);
                    boolean three = i % 2 == 1;
                    if (three) {
                        alloc.free(region.blocks.get(p + 1));
                    }
                    return new int[] {p, three ? p + 2 : p + 1, three ? 3 : 2};
                }

                @Override
                public String actor1(int[] s) {
                    return outcome(() -> alloc.free(region.blocks.get(s[0])), "freed");
                }

                @Override
                public String actor2(int[] s) {
                    return outcome(() -> alloc.free(region.blocks.get(s[1])), "freed");
                }

                @Override
                public void check(int[] s, String outcome1, String outcome2) {
                    int p = s[0];
                    int count = s[2];
                    alloc.verifyHeap();
                    AllocatorStats stats = alloc.stats();
                    assertThat(stats.liveAllocations()).isEqualTo(n - count);
                    long maps = stats.mapCount();
                    MemorySegment merged = alloc.allocate(count * BLOCK, 16);
                    assertThat(merged.address()).as("%d merged blocks from block %d", count, p)
                            .isEqualTo(region.blocks.get(p).address());
                    assertThat(Contents.firstMismatch(merged, 0)).isEqualTo(-1);
                    assertThat(alloc.stats().mapCount()).isEqualTo(maps);
                    alloc.free(merged);
                    region.refill(p, count);
                    if (p == 1) {
                        region.assertIntact();
                    }
                }
            };
            run("neighbours merging", race, Set.of("freed | freed"));
            region.assertIntact();
            alloc.verifyHeap();
            for (MemorySegment block : region.blocks) {
                alloc.free(block);
            }
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // b. A free racing with trim().

    /** What trim said it gave back: a region (or a large block), pages of free blocks only, or nothing. */
    private static String trimmed(long given) {
        return given >= REGION ? "unmapped" : given > 0 ? "purged" : "nothing";
    }

    /** The state of one free-versus-trim iteration: the block to free, and a witness that stays. */
    private record FreeAndTrim(MemorySegment block, MemorySegment witness, int value) {}

    @ParameterizedTest(name = "hardened {0}")
    @ValueSource(booleans = {false, true})
    void aFreeRacingWithTrimLeavesAConsistentHeap(boolean hardened) throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(1).cachedRegions(1).hardened(hardened)
                .build()) {
            // Iteration i % 3: 0, the block is alone in its region, whose free empties it; 1, it lies between a
            // witness and the region's free tail that trim purges, and merges with the tail; 2, a large block.
            Race<FreeAndTrim> race = new Race<>() {
                @Override
                public FreeAndTrim setUp(int i) {
                    int value = 1 + i % 255;
                    MemorySegment witness = i % 3 == 1 ? alloc.allocate(BLOCK, 16) : null;
                    MemorySegment block = alloc.allocate(i % 3 == 2 ? REGION : 3 * BLOCK, 16);
                    Contents.fill(block, value);
                    if (witness != null) {
                        Contents.fill(witness, value);
                    }
                    return new FreeAndTrim(block, witness, value);
                }

                @Override
                public String actor1(FreeAndTrim s) {
                    return outcome(() -> alloc.free(s.block()), "freed");
                }

                @Override
                public String actor2(FreeAndTrim s) {
                    return trimmed(alloc.trim());
                }

                @Override
                public void check(FreeAndTrim s, String outcome1, String outcome2) {
                    alloc.verifyHeap();
                    if (s.witness() != null) {
                        assertThat(Contents.firstMismatch(s.witness(), s.value())).isEqualTo(-1);
                        assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
                        // The freed block, merged with a tail that may have been purged meanwhile, reads as zero.
                        MemorySegment again = alloc.allocate(REGION / 4, 16);
                        assertThat(Contents.firstMismatch(again, 0)).isEqualTo(-1);
                        alloc.free(again);
                        alloc.free(s.witness());
                    }
                    AllocatorStats stats = alloc.stats();
                    assertThat(stats.liveAllocations()).isZero();
                    assertThat(stats.allocatedBytes()).isZero();
                    assertThat(stats.largeBlockCount()).isZero();
                    alloc.trim();
                    alloc.verifyHeap();
                    assertThat(alloc.stats().mappedBytes()).as("after a second trim").isZero();
                }
            };
            run("free and trim" + (hardened ? ", hardened" : ""), race,
                    Set.of("freed | unmapped", "freed | purged", "freed | nothing"));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // c. An allocation racing with the close of a shared arena.

    /** The state of one allocate-versus-close iteration; the segment allocated, if any, is put in {@code got}. */
    private record AllocateAndClose(MemArena arena, long size, AtomicReference<MemorySegment> got) {}

    @Test
    void anAllocationRacingWithASharedArenasCloseGetsASegmentThatDiesOrIllegalStateException() throws Exception {
        AtomicInteger leftInterrupted = new AtomicInteger();
        try (MemAlloc alloc = MemAlloc.builder().regionSize(4 * REGION).stripes(1).build()) {
            // Iteration i % 3: 0, the allocation takes the arena's first chunk; 1, the first chunk is full, and it
            // takes a second one; 2, it is bigger than a first chunk and takes a block of its own.
            Race<AllocateAndClose> race = new Race<>() {
                @Override
                public AllocateAndClose setUp(int i) {
                    MemArena arena = alloc.newSharedArena();
                    if (i % 3 == 1) {
                        arena.allocate(16 * 1024 - 8, 1);
                    }
                    return new AllocateAndClose(arena, i % 3 == 2 ? 20 * 1024 : 64, new AtomicReference<>());
                }

                @Override
                public String actor1(AllocateAndClose s) {
                    MemorySegment segment;
                    try {
                        segment = s.arena().allocate(s.size(), 8);
                    } catch (IllegalStateException closed) {
                        return "closed at allocate";
                    }
                    s.got().set(segment);
                    try {
                        assertThat(segment.get(JAVA_BYTE, s.size() - 1)).isZero();
                        segment.fill((byte) 0x5A);
                        assertThat(segment.get(JAVA_BYTE, 0)).isEqualTo((byte) 0x5A);
                        return "allocated, used";
                    } catch (IllegalStateException closed) {
                        // The JDK stops a thread in a segment access with an asynchronous exception when another
                        // closes the arena, and on JDK 25 may leave its interrupt status set (seen with a plain
                        // Arena.ofShared(), no MemAlloc code), which would fail the harness's next wait. Cleared and
                        // counted; nothing of MemAlloc's.
                        if (Thread.interrupted()) {
                            leftInterrupted.incrementAndGet();
                        }
                        return "allocated, closed at use";
                    }
                }

                @Override
                public String actor2(AllocateAndClose s) {
                    return outcome(() -> s.arena().close(), "closed");
                }

                @Override
                public void check(AllocateAndClose s, String outcome1, String outcome2) {
                    assertThat(s.arena().scope().isAlive()).isFalse();
                    MemorySegment segment = s.got().get();
                    if (segment != null) {
                        assertThatThrownBy(() -> segment.get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
                    }
                    alloc.verifyHeap();
                    alloc.trim(); // the pool of zeroed first chunks goes back to the heap, and the heap to the OS
                    alloc.verifyHeap();
                    AllocatorStats stats = alloc.stats();
                    assertThat(stats.allocatedBytes()).isZero();
                    assertThat(stats.liveAllocations()).isZero();
                    assertThat(stats.mappedBytes()).isZero();
                }
            };
            run("allocate and shared arena close", race, Set.of("allocated, used | closed",
                    "allocated, closed at use | closed", "closed at allocate | closed"));
            LOG.log(System.Logger.Level.DEBUG, "RaceTest allocate and shared arena close: the JDK's close left the"
                    + " allocating thread interrupted " + leftInterrupted + " times (a JDK 25 behaviour)");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // d. One block, two claims. ConcurrencyTest.twoThreadsFreeingTheSameBlockFreeItOnce has two frees of one block
    //    (small and large); here a free races with a reallocate of the block, and two frees race in a hardened heap,
    //    whose free holds the block claimed into its quarantine.

    /** The state of a same-block iteration: the block, its byte, and the new size a reallocate asks for. */
    private record SameBlock(MemorySegment block, int value, long newSize, AtomicReference<MemorySegment> resized) {}

    @ParameterizedTest(name = "hardened {0}")
    @ValueSource(booleans = {false, true})
    void aFreeRacingWithAReallocateOfTheSameBlockLetsOneOfThemHaveIt(boolean hardened) throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(1).hardened(hardened).build()) {
            // Iteration i % 4: a small block shrunk (in place) or grown past its neighbour (moved); a large one
            // shrunk within its mapping (in place) or grown past it (moved).
            IntFunction<long[]> sizes = i -> switch (i % 4) {
                case 0 -> new long[] {1000, 500};
                case 1 -> new long[] {1000, 8000};
                case 2 -> new long[] {REGION, REGION - 1000};
                default -> new long[] {REGION, 4 * REGION};
            };
            Race<SameBlock> race = new Race<>() {
                private MemorySegment neighbour;

                @Override
                public SameBlock setUp(int i) {
                    long[] size = sizes.apply(i);
                    MemorySegment block = alloc.allocate(size[0], 16);
                    neighbour = alloc.allocate(100, 16); // so that growing a small block must move it
                    int value = 1 + i % 255;
                    Contents.fill(block, value);
                    return new SameBlock(block, value, size[1], new AtomicReference<>());
                }

                @Override
                public String actor1(SameBlock s) {
                    return outcome(() -> alloc.free(s.block()), "freed");
                }

                @Override
                public String actor2(SameBlock s) {
                    try {
                        s.resized().set(alloc.reallocate(s.block(), s.newSize()));
                    } catch (IllegalArgumentException notLive) {
                        return notLive.getClass().getSimpleName();
                    }
                    return s.resized().get().address() == s.block().address() ? "in place" : "moved";
                }

                @Override
                public void check(SameBlock s, String outcome1, String outcome2) {
                    // A small block's frees, the owner's and another thread's, can race past each other's check:
                    // the block is then free once, and the owner reports the race when it next collects.
                    boolean raced = outcome1.equals("freed") && outcome2.equals("moved");
                    if (raced) {
                        assertThat(s.block().byteSize()).as("only small blocks").isLessThanOrEqualTo(1024);
                        alloc.trim(); // the owner, this thread, collects
                        assertThat(log.take()).singleElement(STRING).contains("was freed twice at once");
                    }
                    boolean survives = raced
                            || (!outcome2.equals("IllegalArgumentException") && !outcome1.equals("freed"));
                    assertThat(alloc.stats().liveAllocations()).isEqualTo(survives ? 2 : 1);
                    if (survives) {
                        MemorySegment resized = s.resized().get();
                        long kept = Math.min(s.block().byteSize(), s.newSize());
                        assertThat(Contents.firstMismatch(resized, kept, s.value())).isEqualTo(-1);
                        alloc.free(resized);
                    }
                    alloc.free(neighbour);
                    alloc.verifyHeap();
                    assertThat(alloc.stats().liveAllocations()).isZero();
                    assertThat(alloc.stats().allocatedBytes()).isZero();
                }
            };
            // Both cannot win unless the reallocate left the block where it was before the free came, or, in the
            // small-block engine, the two frees raced (see check).
            Set<String> allowed = new HashSet<>(Set.of("freed | IllegalArgumentException",
                    "IllegalArgumentException | moved", "IllegalArgumentException | in place", "freed | in place"));
            if (!hardened) {
                allowed.add("freed | moved");
            }
            run("free and reallocate of one block" + (hardened ? ", hardened" : ""), race, allowed);
        }
    }

    @Test
    void twoFreesOfOneBlockInAHardenedHeapFreeItOnce() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(1).hardened(true).build()) {
            Function<MemorySegment, String> free = block -> outcome(() -> alloc.free(block), "freed");
            Race<MemorySegment> race = new Race<>() {
                @Override
                public MemorySegment setUp(int i) {
                    return alloc.allocate(i % 2 == 0 ? 100 : REGION, 16);
                }

                @Override
                public String actor1(MemorySegment block) {
                    return free.apply(block);
                }

                @Override
                public String actor2(MemorySegment block) {
                    return free.apply(block);
                }

                @Override
                public void check(MemorySegment block, String outcome1, String outcome2) {
                    alloc.verifyHeap();
                    assertThat(alloc.stats().liveAllocations()).isZero();
                    assertThat(alloc.stats().allocatedBytes()).isZero();
                    assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalArgumentException.class);
                }
            };
            run("two frees of one block, hardened", race,
                    Set.of("freed | IllegalArgumentException", "IllegalArgumentException | freed"));
        }
    }
}
