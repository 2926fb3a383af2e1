package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The small-block engine (requests up to 1 KiB at alignments up to 128, from pages that threads own) through the
 * public API: what a write one byte past a block damages, frees on other threads and their collection, the pages of
 * threads that end or only free, virtual threads on the shared heaps, frees of what is not a live block, reallocation
 * within and across size classes, and zeroing of recycled blocks.
 */
@Timeout(120) // guards a hang only: every wait below has its own, shorter bound
class SmallBlocksTest {
    /** One page a region: the count of regions is the count of pages. */
    private static final long ONE_PAGE = 64 * 1024;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    /** {@code segment}'s address as a segment of {@code byteSize} bytes: the reach of a native library's write. */
    @SuppressWarnings("restricted")
    private static MemorySegment widened(MemorySegment segment, long byteSize) {
        return MemorySegment.ofAddress(segment.address()).reinterpret(byteSize);
    }

    /** A segment of the allocator's scope at {@code offset} bytes from {@code block}: an address a caller could free. */
    @SuppressWarnings("restricted")
    private static MemorySegment inScope(MemorySegment block, long offset) {
        return block.reinterpret(offset + 1).asSlice(offset, 0);
    }

    /** Runs {@code task} on {@code thread}'s executor and waits for it, at most 30 seconds. */
    private static <T> T on(ExecutorService thread, Callable<T> task) throws Exception {
        return thread.submit(task).get(30, TimeUnit.SECONDS);
    }

    private static void shutDown(ExecutorService executor) throws InterruptedException {
        executor.shutdownNow();
        assertThat(executor.awaitTermination(30, TimeUnit.SECONDS)).as("the executor ended").isTrue();
    }

    private static List<Long> addresses(List<MemorySegment> segments) {
        return segments.stream().map(MemorySegment::address).toList();
    }

    /** Fails when two of the blocks share a byte. */
    private static void assertDisjoint(List<MemorySegment> blocks) {
        List<MemorySegment> sorted = new ArrayList<>(blocks);
        sorted.sort(Comparator.comparingLong(MemorySegment::address));
        for (int i = 1; i < sorted.size(); i++) {
            MemorySegment before = sorted.get(i - 1);
            long end = before.address() + Math.max(1, before.byteSize());
            assertThat(sorted.get(i).address()).as("the block after 0x%x (%d bytes)", before.address(),
                    before.byteSize()).isGreaterThanOrEqualTo(end);
        }
    }

    // (a) a write past a block

    @Test
    void aOneByteWritePastASmallBlockDamagesOnlyTheNextBlocksFirstByteAndTheHeapGoesOn() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                MemorySegment block = alloc.allocate(64, 16);
                Contents.fill(block, i + 1);
                blocks.add(block);
            }
            MemorySegment overflowing = blocks.get(40);
            MemorySegment next = blocks.get(41);
            assertThat(next.address()).as("neighbours").isEqualTo(overflowing.address() + 64);

            widened(overflowing, 65).set(JAVA_BYTE, 64, (byte) 0x7F);

            assertThat(next.get(JAVA_BYTE, 0)).isEqualTo((byte) 0x7F);
            assertThat(Contents.firstMismatch(next.asSlice(1), 42)).as("the rest of the next block").isEqualTo(-1);
            for (int i = 0; i < blocks.size(); i++) {
                if (i != 41) {
                    assertThat(Contents.firstMismatch(blocks.get(i), i + 1)).as("block %d", i).isEqualTo(-1);
                }
            }
            alloc.verifyHeap();

            // The damaged block and its neighbour come and go as any other; thousands more of several classes
            // are handed out, none twice, and each keeps what is written to it.
            alloc.free(next);
            alloc.free(overflowing);
            List<MemorySegment> live = new ArrayList<>(blocks);
            live.remove(next);
            live.remove(overflowing);
            for (int i = 0; i < 5_000; i++) {
                MemorySegment block = alloc.allocate(1 + i * 37 % 1024, 16);
                Contents.fill(block, i);
                live.add(block);
                if (i % 3 == 0) {
                    MemorySegment gone = live.remove(i % live.size());
                    alloc.free(gone);
                }
            }
            assertThat(addresses(live)).as("addresses of live blocks").doesNotHaveDuplicates();
            assertDisjoint(live);
            alloc.verifyHeap();
            for (MemorySegment block : live) {
                alloc.free(block);
            }
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }

    // (b) frees on another thread

    @Test
    void blocksFreedOnAnotherThreadComeBackToTheAllocatingThreadOnceCollected() throws Exception {
        ExecutorService owner = Executors.newSingleThreadExecutor();
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            // A page of 64-byte blocks holds 1,024: the owner fills one, so that its next allocation must look for
            // the blocks other threads freed.
            List<MemorySegment> blocks = on(owner, () -> {
                List<MemorySegment> allocated = new ArrayList<>();
                for (int i = 0; i < 1024; i++) {
                    allocated.add(alloc.allocate(64, 16));
                }
                return allocated;
            });
            long mapped = alloc.stats().mapCount();
            List<MemorySegment> freed = List.of(blocks.get(5), blocks.get(300), blocks.get(1023));
            for (MemorySegment block : freed) {
                alloc.free(block); // on this thread: a remote free
            }
            assertThat(alloc.stats().freeCount()).as("counted at once").isEqualTo(3);
            assertThat(alloc.stats().liveAllocations()).isEqualTo(1024 - 3);
            assertThatThrownBy(() -> alloc.free(freed.get(0))).as("not live before it is collected")
                    .isInstanceOf(IllegalArgumentException.class);

            List<MemorySegment> again = on(owner, () -> List.of(alloc.allocate(64, 16), alloc.allocate(50, 16),
                    alloc.allocate(64, 16)));

            assertThat(addresses(again)).as("the blocks freed remotely, lowest first")
                    .containsExactlyElementsOf(addresses(freed));
            assertThat(alloc.stats().mapCount()).as("no new mapping").isEqualTo(mapped);
            List<MemorySegment> live = new ArrayList<>(blocks);
            live.removeAll(freed);
            live.addAll(again);
            on(owner, () -> {
                live.forEach(alloc::free);
                return null;
            });
            assertThat(alloc.stats().liveAllocations()).isZero();
            alloc.verifyHeap();
        } finally {
            shutDown(owner);
        }
    }

    // (c) a thread that ends

    @Test
    void thePagesOfAThreadThatEndedGoBackWithoutATrimOnceItsBlocksAreFreed() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(ONE_PAGE).cachedRegions(0).build()) {
            MemorySegment mine = alloc.allocate(16, 16);
            int before = alloc.stats().regionCount();
            assertThat(before).isEqualTo(1);
            List<MemorySegment> blocks = new ArrayList<>();
            Thread thread = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 3_000; i++) {
                    blocks.add(alloc.allocate(16 + i % 7 * 150, 16)); // 7 classes, several pages of some
                }
            });
            thread.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thread.isAlive()).isFalse();
            assertThat(blocks).hasSize(3_000);
            assertThat(alloc.stats().regionCount()).as("its pages").isGreaterThan(before + 7);

            blocks.forEach(alloc::free); // the thread's pages are abandoned meanwhile, or after: either way

            awaitRegionCount(alloc, before);
            assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
            alloc.free(mine);
            assertThat(alloc.stats().regionCount()).isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
        }
    }

    @Test
    void thePagesOfAThreadThatEndedAndWasReapedGoBackAsTheLastOfTheirBlocksIsFreed() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(ONE_PAGE).cachedRegions(0).build()) {
            List<MemorySegment> blocks = new ArrayList<>();
            Thread thread = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2_000; i++) {
                    blocks.add(alloc.allocate(100, 16));
                }
            });
            thread.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thread.isAlive()).isFalse();
            int pages = alloc.stats().regionCount();
            alloc.trim(); // reaps the ended thread (join made it dead to isAlive): its pages are abandoned now

            blocks.subList(0, 1_000).forEach(alloc::free);
            assertThat(alloc.stats().regionCount()).as("pages with blocks still live").isPositive()
                    .isLessThanOrEqualTo(pages);
            blocks.subList(1_000, 2_000).forEach(alloc::free);

            awaitRegionCount(alloc, 0);
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }

    @Test
    void verifyHeapAndStatsStayExactWhileTheReaperGivesBackAnEndedThreadsPages() throws Exception {
        // The reaper, the allocator's own thread, gives pages back and unmaps regions in steps: neither a check nor
        // a count may see it halfway. Before they excluded it, this failed in most rounds (a region counted in
        // mappedBytes but out of the table, a page released but still in its region).
        for (int round = 0; round < 10; round++) {
            try (MemAlloc alloc = MemAlloc.builder().regionSize(ONE_PAGE).cachedRegions(0).stripes(1).build()) {
                List<MemorySegment> blocks = new ArrayList<>();
                Thread thread = Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 3_000; i++) {
                        blocks.add(alloc.allocate(16 + i % 7 * 150, 16));
                    }
                });
                thread.join(TimeUnit.SECONDS.toMillis(30));
                assertThat(thread.isAlive()).isFalse();
                blocks.forEach(alloc::free); // into the ended thread's pages: the reaper gives them back meanwhile
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
                while (System.nanoTime() - deadline < 0) {
                    alloc.verifyHeap();
                    AllocatorStats stats = alloc.stats();
                    assertThat(stats.liveAllocations()).as("round %d", round).isZero();
                    assertThat(stats.allocatedBytes()).as("round %d", round).isZero();
                }
            }
        }
    }

    /** Waits, at most 5 seconds and without a trim, until {@code alloc} maps {@code expected} regions. */
    private static void awaitRegionCount(MemAlloc alloc, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (alloc.stats().regionCount() != expected && System.nanoTime() - deadline < 0) {
            Thread.sleep(20);
        }
        assertThat(alloc.stats().regionCount()).as("regions once the ended thread's blocks are freed, no trim")
                .isEqualTo(expected);
    }

    // (d) a thread that only frees

    @Test
    void aThreadThatOnlyFreesGetsNoPages() throws Exception {
        // Empty regions kept, rather than unmapped: the pages the frees empty are reused, not mapped again.
        try (MemAlloc alloc = MemAlloc.builder().regionSize(ONE_PAGE).cachedRegions(64).build()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 3_000; i++) {
                blocks.add(alloc.allocate(16 + i % 5 * 200, 16));
            }
            int regions = alloc.stats().regionCount();
            long mapped = alloc.stats().mapCount();

            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread consumer = Thread.ofPlatform().start(() -> {
                try {
                    blocks.forEach(alloc::free);
                } catch (RuntimeException | Error e) {
                    failure.set(e);
                }
            });
            consumer.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(consumer.isAlive()).isFalse();
            assertThat(failure.get()).isNull();

            assertThat(alloc.stats().regionCount()).as("regions after another thread freed every block")
                    .isLessThanOrEqualTo(regions);
            assertThat(alloc.stats().mapCount()).isEqualTo(mapped);
            assertThat(alloc.stats().liveAllocations()).isZero();

            // The same requests again on this thread: served from the pages the frees emptied (once collected,
            // they go back to their regions, kept empty, and are carved again), with no new mapping.
            List<MemorySegment> again = new ArrayList<>();
            for (int i = 0; i < 3_000; i++) {
                again.add(alloc.allocate(16 + i % 5 * 200, 16));
            }
            assertThat(alloc.stats().mapCount()).as("no new mapping for the same blocks").isEqualTo(mapped);
            assertThat(alloc.stats().regionCount()).isEqualTo(regions);
            assertDisjoint(again);
            again.forEach(alloc::free);
            alloc.verifyHeap();
        }
    }

    // (e) virtual threads

    @Test
    void aThousandVirtualThreadsAllocateAndFreeOnTheSharedHeapsInFewPages() throws Exception {
        int stripes = 4;
        int threads = 1_000;
        // cachedRegions far above what is used: no region is unmapped, so mapCount is the most held at once.
        try (MemAlloc alloc = MemAlloc.builder().regionSize(ONE_PAGE).stripes(stripes).cachedRegions(1_000)
                .build()) {
            ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int value = t % 250 + 1;
                results.add(executor.submit(() -> {
                    assertThat(Thread.currentThread().isVirtual()).isTrue();
                    MemorySegment a = alloc.allocate(48, 16);
                    MemorySegment b = alloc.allocate(40, 8);
                    MemorySegment c = alloc.allocate(512, 64);
                    Contents.fill(a, value);
                    Contents.fill(b, value + 1);
                    Contents.fill(c, value + 2);
                    long mismatches = (Contents.firstMismatch(a, value) + 1) + (Contents.firstMismatch(b, value + 1)
                            + 1) + (Contents.firstMismatch(c, value + 2) + 1);
                    alloc.free(b);
                    alloc.free(a);
                    alloc.free(c);
                    return (int) mismatches;
                }));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int failed = 0;
            for (Future<Integer> result : results) {
                long left = Math.max(1, deadline - System.nanoTime());
                failed += result.get(left, TimeUnit.NANOSECONDS) == 0 ? 0 : 1;
            }
            shutDown(executor);
            assertThat(failed).as("threads whose blocks did not keep their bytes").isZero();

            AllocatorStats stats = alloc.stats();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.allocationCount()).isEqualTo(3L * threads);
            // Virtual threads share `stripes` heaps. A heap takes a fresh page of a class only when each of its
            // pages of that class is full of blocks live or freed since its last collection (every free on a
            // virtual thread is remote): at most `stripes` current pages a class, `stripes` more for rounding,
            // and pages full of at most twice the blocks of that class ever handed out (live, and freed but
            // not collected). Classes: 48 bytes (two blocks a thread, 1,365 a page), 512 (one, 128 a page).
            long bound = 2L * stripes * 2 + ceilDiv(2L * 2 * threads, 1365) + ceilDiv(2L * threads, 128);
            assertThat(stats.mapCount()).as("pages mapped, at most %d; a heap a thread would take %d", bound,
                    2 * threads).isLessThanOrEqualTo(bound);
            assertThat(stats.regionCount()).isLessThanOrEqualTo((int) bound);
            alloc.verifyHeap();
        }
    }

    @Test
    void virtualThreadsWaitingForTheSharedHeapLetTheOneHoldingItRunAgain() throws Exception {
        // In a child JVM: a livelock would keep every carrier of the JVM's virtual-thread scheduler spinning for
        // good, and every later test that starts a virtual thread with them.
        ChildJvm.Outcome outcome = ChildJvm.run(SharedHeapWaitScenario.class,
                List.of("-Djdk.virtualThreadScheduler.parallelism=2"), Duration.ofSeconds(60));

        assertThat(outcome.exitCode()).as("the child's exit; it printed:%n%s", outcome.output()).isZero();
        assertThat(outcome.output()).contains("finished: 2000 threads");
    }

    /**
     * Run in a child JVM: 2,000 virtual threads allocate and free small blocks on one shared heap (one stripe),
     * in regions of one page, none cached (so that many an allocation takes a page or gives one back, under the
     * lock of the page regions), while a platform thread reads the statistics and two others allocate and free
     * too. A virtual thread that parks on that lock while it holds the shared heap must get a carrier back to let
     * go of it, also when a platform thread is the one that wakes it (it is then queued from outside the carriers'
     * pool, behind virtual threads that only yield: with yields alone this scenario was stuck every time). Prints
     * {@code finished: 2000 threads}, or {@code stuck} and exits 3 when no thread ended for 10 seconds.
     */
    static final class SharedHeapWaitScenario {
        private SharedHeapWaitScenario() {}

        public static void main(String[] args) throws InterruptedException {
            MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(ONE_PAGE).cachedRegions(0).build();
            Thread.ofPlatform().daemon().start(() -> {
                for (;;) {
                    alloc.stats();
                }
            });
            // Platform threads that take the page lock too: when one lets it go, the virtual thread it wakes is
            // queued from outside the carriers' pool.
            for (int p = 0; p < 2; p++) {
                Thread.ofPlatform().daemon().start(() -> {
                    for (int i = 0; ; i++) {
                        alloc.free(alloc.allocate(16 + i % 64 * 16, 16));
                    }
                });
            }
            int threads = 2_000;
            AtomicInteger ended = new AtomicInteger();
            for (int t = 0; t < threads; t++) {
                Thread.ofVirtual().start(() -> {
                    for (int i = 0; i < 50; i++) {
                        alloc.free(alloc.allocate(16 + i % 64 * 16, 16));
                    }
                    ended.incrementAndGet();
                });
            }
            int last = -1;
            long changed = System.nanoTime();
            while (ended.get() < threads) {
                Thread.sleep(50);
                int now = ended.get();
                if (now != last) {
                    last = now;
                    changed = System.nanoTime();
                } else if (System.nanoTime() - changed > TimeUnit.SECONDS.toNanos(10)) {
                    System.out.println("stuck: " + now + " of " + threads + " threads ended, none for 10 s");
                    System.exit(3);
                }
            }
            System.out.println("finished: " + threads + " threads");
            System.exit(0);
        }
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    // (f) frees of what is not a live block

    @Test
    void aSecondFreeOfASmallBlockOnTheSameThreadIsRefusedAtTheCall() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemorySegment block = alloc.allocate(32, 16);
            MemorySegment other = alloc.allocate(32, 16);
            alloc.free(block);

            assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(Long.toHexString(block.address()));
            assertThatThrownBy(() -> alloc.reallocate(block, 16)).isInstanceOf(IllegalArgumentException.class);

            assertThat(alloc.stats().freeCount()).as("the refused free is not counted").isEqualTo(1);
            // Uninitialized: a freed (dirty) block first, where a zeroed allocation takes a clean one first.
            MemorySegment again = alloc.allocateUninitialized(32, 16);
            assertThat(again.address()).isEqualTo(block.address());
            MemorySegment fresh = alloc.allocateUninitialized(32, 16);
            assertThat(fresh.address()).as("the block is handed out once").isNotEqualTo(block.address())
                    .isNotEqualTo(other.address());
            alloc.free(again);
            alloc.free(fresh);
            alloc.free(other);
            alloc.verifyHeap();
        }
    }

    @Test
    void aSecondFreeOfASmallBlockOnAnotherThreadOrderedByJoinIsRefusedAtTheCall() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemorySegment freedHere = alloc.allocate(64, 16);
            MemorySegment freedThere = alloc.allocate(64, 16);
            MemorySegment freedTwiceThere = alloc.allocate(64, 16);
            MemorySegment keep = alloc.allocate(64, 16);
            alloc.free(freedHere);

            List<Throwable> thrown = new ArrayList<>();
            Thread other = Thread.ofPlatform().start(() -> {
                thrown.add(refusal(() -> alloc.free(freedHere))); // freed by its owner: its free bit
                alloc.free(freedThere);
                alloc.free(freedTwiceThere);
                thrown.add(refusal(() -> alloc.free(freedTwiceThere))); // its remote bit
            });
            other.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(other.isAlive()).isFalse();
            assertThat(thrown).hasSize(2).allSatisfy(t -> assertThat(t).isInstanceOf(IllegalArgumentException.class));
            assertThatThrownBy(() -> alloc.free(freedThere)).as("on the owner, before the remote free is collected")
                    .isInstanceOf(IllegalArgumentException.class);

            Thread third = Thread.ofPlatform().start(() -> thrown.add(refusal(() -> alloc.free(freedThere))));
            third.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(thrown).hasSize(3).last().isInstanceOf(IllegalArgumentException.class);

            assertThat(alloc.stats().freeCount()).isEqualTo(3);
            assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
            // Each of the three is handed out once again: none of the refused frees freed it a second time.
            List<MemorySegment> again = new ArrayList<>();
            for (int i = 0; i < 2_000; i++) {
                again.add(alloc.allocate(64, 16));
            }
            again.add(keep);
            assertThat(addresses(again)).doesNotHaveDuplicates().contains(freedHere.address(), freedThere.address(),
                    freedTwiceThere.address());
            again.forEach(alloc::free);
            alloc.verifyHeap();
        }
    }

    /** What {@code action} throws, or null. */
    private static Throwable refusal(Runnable action) {
        try {
            action.run();
            return null;
        } catch (RuntimeException e) {
            return e;
        }
    }

    @Test
    void anInteriorPointerOrOneIntoAPageOfNoBlockIsRefusedAndChangesNothing() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemorySegment block = alloc.allocate(48, 16);
            Contents.fill(block, 0x33);
            for (long offset : new long[] {1, 8, 16, 47}) {
                assertThatThrownBy(() -> alloc.free(inScope(block, offset))).as("+%d", offset)
                        .isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> alloc.reallocate(inScope(block, offset), 8)).as("+%d", offset)
                        .isInstanceOf(IllegalArgumentException.class);
            }
            // 48-byte blocks leave 16 bytes at the end of their page; the next slot holds no page.
            assertThatThrownBy(() -> alloc.free(inScope(block, 1365 * 48))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.free(inScope(block, 64 * 1024))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.free(inScope(block, 48))).as("a block never handed out")
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(Contents.firstMismatch(block, 0x33)).isEqualTo(-1);
            assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
            alloc.free(block);
            alloc.verifyHeap();
        }
    }

    @Test
    void interiorAndForeignPointersAreRefusedWithoutReadingMemory() throws Exception {
        ChildJvm.Outcome outcome = ChildJvm.run(UnreadableMemoryScenario.class, Duration.ofSeconds(60));

        assertThat(outcome.exitCode()).as("the child's exit; it printed:%n%s", outcome.output()).isZero();
        assertThat(outcome.output().lines().filter(line -> line.startsWith("case ")).toList()).containsExactly(
                "case foreign: IllegalArgumentException",
                "case foreign interior: IllegalArgumentException",
                "case foreign reallocate: IllegalArgumentException",
                "case small interior: IllegalArgumentException",
                "case small interior reallocate: IllegalArgumentException",
                "case small free: returned",
                "case small second free: IllegalArgumentException",
                "case small reallocate freed: IllegalArgumentException",
                "case small never handed out: IllegalArgumentException");
        assertThat(outcome.output()).contains("heap usable");
    }

    /**
     * Run in a child JVM: frees on memory that faults when read (a mapping of its own, then the OS page holding
     * small blocks of the global allocator, whose segments any address may name). A read would end the JVM with a
     * SIGSEGV. Prints {@code case <name>: <exception class or "returned">} each, then {@code heap usable}.
     */
    static final class UnreadableMemoryScenario {
        private UnreadableMemoryScenario() {}

        public static void main(String[] args) {
            MemAlloc alloc = MemAlloc.global();
            OsMemory os = OsMemory.system();
            long foreign = os.map(os.granularity(), os.granularity());
            os.protect(foreign, os.granularity());
            run("foreign", () -> alloc.free(MemorySegment.ofAddress(foreign)));
            run("foreign interior", () -> alloc.free(MemorySegment.ofAddress(foreign + 48)));
            run("foreign reallocate", () -> alloc.reallocate(MemorySegment.ofAddress(foreign), 32));

            // 448 bytes: a class of its own here, so a page of its own; protect the OS page of its first blocks.
            MemorySegment block = alloc.allocate(448, 16);
            MemorySegment neighbour = alloc.allocate(448, 16);
            long page = block.address() & -os.pageSize();
            if (neighbour.address() + 448 > page + os.pageSize()) {
                throw new AssertionError("the blocks span more than an OS page");
            }
            os.protect(page, os.pageSize());
            run("small interior", () -> alloc.free(MemorySegment.ofAddress(block.address() + 16)));
            run("small interior reallocate", () -> alloc.reallocate(MemorySegment.ofAddress(block.address() + 8),
                    16));
            run("small free", () -> alloc.free(MemorySegment.ofAddress(block.address())));
            run("small second free", () -> alloc.free(MemorySegment.ofAddress(block.address())));
            run("small reallocate freed", () -> alloc.reallocate(MemorySegment.ofAddress(block.address()), 16));
            run("small never handed out", () -> alloc.free(MemorySegment.ofAddress(neighbour.address() + 448)));

            // Other classes, other pages: the heap goes on.
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 1_000; i++) {
                MemorySegment b = alloc.allocate(1 + i % 300, 16);
                b.fill((byte) i);
                blocks.add(b);
            }
            blocks.forEach(alloc::free);
            System.out.println("heap usable");
        }

        private static void run(String name, Runnable operation) {
            String outcome;
            try {
                operation.run();
                outcome = "returned";
            } catch (RuntimeException e) {
                outcome = e.getClass().getSimpleName();
            }
            System.out.println("case " + name + ": " + outcome);
        }
    }

    // (g) reallocate

    @Test
    void reallocateWithinItsClassKeepsTheAddressAndZeroesWhatItGains() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemorySegment block = alloc.allocate(40, 16); // a 48-byte block
            Contents.fill(block, 0x11);
            widened(block, 48).asSlice(40).fill((byte) 0x66); // the slack, as a write past the end would leave it

            MemorySegment grown = alloc.reallocate(block, 48);

            assertThat(grown.address()).isEqualTo(block.address());
            assertThat(grown.byteSize()).isEqualTo(48);
            assertThat(Contents.firstMismatch(grown, 40, 0x11)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(grown.asSlice(40), 0)).as("the bytes gained").isEqualTo(-1);
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(48);

            MemorySegment shrunk = alloc.reallocate(grown, 33);
            assertThat(shrunk.address()).isEqualTo(block.address());
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(33);
            assertThat(Contents.firstMismatch(shrunk, 0x11)).isEqualTo(-1);
            assertThat(alloc.stats().allocationCount()).as("no new block").isEqualTo(1);
            alloc.free(shrunk);
            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }

    @Test
    void reallocateAcrossClassesMovesTheBlockKeepsItsContentAndAlignmentAndZeroesTheRest() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            // Moves into 112-byte blocks, again and again, so that they land in recycled blocks too (each filled
            // whole before it is freed), whose bytes past the old size must read as zero all the same.
            Set<Long> landed = new HashSet<>();
            int recycled = 0;
            MemorySegment block = null;
            MemorySegment moved = null;
            for (int i = 0; i < 2_000; i++) {
                if (moved != null) {
                    Contents.fill(moved, 0x77);
                    alloc.free(moved);
                }
                block = alloc.allocate(40, 16);
                Contents.fill(block, 0x22);
                moved = alloc.reallocate(block, 100);
                assertThat(Contents.firstMismatch(moved, 40, 0x22)).isEqualTo(-1);
                assertThat(Contents.firstMismatch(moved.asSlice(40), 0)).as("the bytes past the old size, move %d", i)
                        .isEqualTo(-1);
                if (!landed.add(moved.address())) {
                    recycled++;
                }
            }
            assertThat(recycled).as("moves into recycled blocks").isPositive();
            assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
            MemorySegment old = block;
            assertThatThrownBy(() -> alloc.free(old)).as("the old block was freed")
                    .isInstanceOf(IllegalArgumentException.class);

            MemorySegment smaller = alloc.reallocate(moved, 10);
            assertThat(smaller.address()).as("to a 16-byte block").isNotEqualTo(moved.address());
            assertThat(Contents.firstMismatch(smaller, 0x22)).isEqualTo(-1);

            MemorySegment aligned = alloc.allocate(64, 64);
            Contents.fill(aligned, 0x44);
            MemorySegment alignedMoved = alloc.reallocate(aligned, 100); // 112 would not be aligned to 64: 128
            assertThat(alignedMoved.address() % 64).isZero();
            assertThat(alignedMoved.address()).isNotEqualTo(aligned.address());
            assertThat(Contents.firstMismatch(alignedMoved, 64, 0x44)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(alignedMoved.asSlice(64), 0)).isEqualTo(-1);

            MemorySegment large = alloc.reallocate(smaller, 5_000); // out of the small blocks
            assertThat(Contents.firstMismatch(large, 10, 0x22)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(large.asSlice(10), 0)).isEqualTo(-1);
            MemorySegment back = alloc.reallocate(large, 20); // and back into them
            assertThat(Contents.firstMismatch(back, 10, 0x22)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(back.asSlice(10), 0)).isEqualTo(-1);

            alloc.free(back);
            alloc.free(alignedMoved);
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isZero();
            alloc.verifyHeap();
        }
    }

    // (h) zeroing

    /**
     * Allocates, uninitialized, a page's worth of blocks of {@code size} bytes and one more, writes {@code value} over
     * each and frees them all: every free block of the class is then dirty. Returns their addresses.
     */
    private static Set<Long> dirtyAPage(MemAlloc alloc, long size, int value) {
        List<MemorySegment> blocks = new ArrayList<>();
        for (long i = 0; i <= ONE_PAGE / size; i++) {
            MemorySegment block = alloc.allocateUninitialized(size, 16);
            Contents.fill(block, value);
            blocks.add(block);
        }
        blocks.forEach(alloc::free);
        return new HashSet<>(addresses(blocks));
    }

    @Test
    void allocateZeroesARecycledSmallBlockOfEveryClassAndAllocateUninitializedLeavesIt() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            Set<Long> sizes = new HashSet<>();
            for (long size = 1; size <= 1024; size = size < 16 ? size + 5 : size + size / 5) {
                sizes.add(size);
            }
            sizes.add(1024L);
            for (long size : sizes) {
                // A zeroed allocation takes a clean block while its page has one: make them all dirty first.
                Set<Long> dirty = dirtyAPage(alloc, size, 0x5A);
                List<MemorySegment> again = new ArrayList<>();
                for (long i = 0; i <= ONE_PAGE / size; i++) {
                    again.add(alloc.allocate(size, 16));
                }
                assertThat(addresses(again)).as("%d bytes: recycled blocks", size).containsAnyElementsOf(dirty);
                for (MemorySegment block : again) {
                    assertThat(Contents.firstMismatch(block, 0)).as("%d bytes at 0x%x, zeroed", size,
                            block.address()).isEqualTo(-1);
                }
                again.forEach(alloc::free);
                MemorySegment written = alloc.allocateUninitialized(size, 16);
                Contents.fill(written, 0x5A);
                alloc.free(written);
                MemorySegment raw = alloc.allocateUninitialized(size, 16);
                assertThat(raw.address()).as("%d bytes: a dirty block first", size).isEqualTo(written.address());
                assertThat(Contents.firstMismatch(raw, 0x5A)).as("%d bytes, left as they were", size).isEqualTo(-1);
                alloc.free(raw);
            }
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }

    @Test
    void aPageCarvedWhereAnotherClassHadBlocksIsZeroedAsItIsHandedOut() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            // Two pages of 64-byte blocks, written; freed, the first goes back to its region (the second, the
            // current one, is kept), and the next page, of 128-byte blocks, takes its place.
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 2 * 1024; i++) {
                MemorySegment block = alloc.allocateUninitialized(64, 16);
                Contents.fill(block, 0x5A);
                blocks.add(block);
            }
            long firstPage = blocks.getFirst().address();
            blocks.forEach(alloc::free);

            List<MemorySegment> others = new ArrayList<>();
            for (int i = 0; i < 512; i++) {
                others.add(alloc.allocate(128, 16));
            }
            assertThat(addresses(others)).as("in the slot of the first page").contains(firstPage);
            for (MemorySegment block : others) {
                assertThat(Contents.firstMismatch(block, 0)).as("0x%x", block.address()).isEqualTo(-1);
            }
            others.forEach(alloc::free);
            alloc.verifyHeap();
        }
    }
}
