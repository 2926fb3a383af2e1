package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link HeapModelPropertyTest} on several threads at once: in each try, two platform threads and a virtual one run
 * seeded random sequences of allocate, allocate uninitialized, free and reallocate on one private allocator (64 KiB
 * regions, so that small blocks, medium ones and large ones with mappings of their own all occur; one or two
 * stripes; hardened or not), each against its own model, the list of its live blocks with the size, alignment and
 * byte each was given. A thread also hands blocks off, on a shared queue, to whichever thread takes them, which then
 * frees or reallocates blocks another thread allocated. After each operation a thread checks that every block it
 * holds still holds its byte over its whole size (each thread writes bytes of its own, so a block handed out twice,
 * or memory two blocks share, shows as another thread's byte). Once the threads are joined, the union of the models
 * and the queue must agree with the allocator: every block holds its byte, sits at its alignment and overlaps no
 * other; {@code stats()} counts the union's blocks and bytes; {@code verifyHeap()} passes; freed, all from this
 * thread (frees on a thread that allocated none of them), nothing is left allocated or mapped.
 *
 * <p>The interleaving differs from run to run, so nothing is shrunk; every property asserted holds for any
 * interleaving, and each worker's sequence comes from a seed drawn from a fixed one, so that a failure names the
 * seed, the thread and the step, with the thread's last operations. The tries are bounded so that the class runs in
 * a few seconds.
 */
@Timeout(60) // guards a hang only: the class runs in a few seconds, and each try waits for its threads 20 s at most
class ConcurrentModelPropertyTest {
    private static final int TRIES = 200;
    private static final int MAX_OPERATIONS = 150;
    /** Two platform threads, then a virtual one. */
    private static final int WORKERS = 3;
    /** The regions of {@link HeapModelPropertyTest}, whose sizes and alignments this test draws. */
    private static final long REGION = 64 * 1024;
    /** Worker w fills its blocks with bytes {@code 1 + w * PER_WORKER} to {@code (w + 1) * PER_WORKER}. */
    private static final int PER_WORKER = 10;
    /** How many of a thread's operations a failure lists, the last ones. */
    private static final int SHOWN = 12;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    /** One step of a worker's sequence. */
    sealed interface Operation permits Allocate, Free, Reallocate, HandOff, Adopt {}

    /** {@code allocate(size, alignment)}, or {@code allocateUninitialized} when not {@code zeroed}. */
    record Allocate(long size, long alignment, boolean zeroed) implements Operation {}

    /** Frees live block {@code index} modulo the live count (nothing when none is live). */
    record Free(int index) implements Operation {}

    /** Reallocates live block {@code index} modulo the live count to {@code newSize}. */
    record Reallocate(int index, long newSize) implements Operation {}

    /** Puts live block {@code index} modulo the live count on the shared queue, and forgets it. */
    record HandOff(int index) implements Operation {}

    /** Takes the block at the head of the shared queue, if there is one, into this worker's model. */
    record Adopt() implements Operation {}

    /** A live block: its segment, the alignment asked, the byte it holds, and the worker and step that wrote it. */
    private record Live(MemorySegment segment, long alignment, int value, int worker, int step) {
        @Override
        public String toString() {
            return String.format("0x%x (%d B, align %d, byte %d, by worker %d at step %d)", segment.address(),
                    segment.byteSize(), alignment, value, worker, step);
        }
    }

    /** One try: the allocator's shape and each worker's sequence. */
    private record Case(long seed, int stripes, boolean hardened, List<List<Operation>> workers) {
        @Override
        public String toString() {
            return "seed " + seed + ", " + stripes + " stripes, " + (hardened ? "hardened" : "not hardened") + ", "
                    + workers.stream().map(List::size).toList() + " operations";
        }
    }

    /** What a worker ended with: the blocks it holds, and what it did, one line a step. */
    private record Outcome(List<Live> model, List<String> done) {}

    @Test
    void threadsAllocatingFreeingAndHandingOffBlocksLeaveTheAllocatorAgreeingWithTheirModels() throws Exception {
        SplittableRandom seeds = new SplittableRandom(0x636F6E6375724CL);
        for (int i = 0; i < TRIES; i++) {
            run(generate(seeds.nextLong()));
        }
    }

    private static Case generate(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int stripes = 1 + random.nextInt(2);
        boolean hardened = random.nextBoolean();
        List<List<Operation>> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            workers.add(operations(random.split()));
        }
        return new Case(seed, stripes, hardened, List.copyOf(workers));
    }

    /** A third of {@link #MAX_OPERATIONS} to all of them. */
    private static List<Operation> operations(SplittableRandom random) {
        int count = MAX_OPERATIONS / 3 + random.nextInt(MAX_OPERATIONS - MAX_OPERATIONS / 3 + 1);
        List<Operation> operations = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int pick = random.nextInt(100);
            operations.add(pick < 35 ? new Allocate(HeapModelPropertyTest.size(random),
                    HeapModelPropertyTest.alignment(random), random.nextBoolean())
                    : pick < 55 ? new Free(random.nextInt(1_000))
                    : pick < 75 ? new Reallocate(random.nextInt(1_000), HeapModelPropertyTest.size(random))
                    : pick < 88 ? new HandOff(random.nextInt(1_000))
                    : new Adopt());
        }
        return List.copyOf(operations);
    }

    /** Runs {@code tried}'s workers together on a new allocator, then checks and frees what they left. */
    private static void run(Case tried) throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(tried.stripes()).cachedRegions(1)
                .hardened(tried.hardened()).build()) {
            Queue<Live> handOffs = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            List<FutureTask<Outcome>> tasks = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                int worker = w;
                FutureTask<Outcome> task = new FutureTask<>(() -> {
                    start.await();
                    return work(alloc, tried, worker, handOffs);
                });
                Thread.Builder builder = worker < WORKERS - 1 ? Thread.ofPlatform().daemon() : Thread.ofVirtual();
                threads.add(builder.name("model-worker-" + worker).start(task));
                tasks.add(task);
            }
            start.countDown();
            // Every thread is joined before any outcome is read: one that failed must not leave the others running
            // on an allocator about to be closed. The join orders their writes before the checks below.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            for (int w = 0; w < WORKERS; w++) {
                Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
                assertThat(threads.get(w).join(left)).as("%s: worker %d ended within 20 s", tried, w).isTrue();
            }
            List<Outcome> outcomes = new ArrayList<>();
            for (FutureTask<Outcome> task : tasks) {
                outcomes.add(task.get()); // a worker's failure fails the test here, with its message
            }
            try {
                assertUnionAgrees(alloc, tried, outcomes, List.copyOf(handOffs));
            } catch (AssertionError | RuntimeException failure) {
                StringBuilder last = new StringBuilder();
                for (int w = 0; w < WORKERS; w++) {
                    last.append(String.format("%n  worker %d: %s", w, lastOf(outcomes.get(w).done())));
                }
                throw new AssertionError(String.format("%s: the allocator and the union of the models disagree once"
                        + " the workers ended: %s%nthe workers' last operations:%s", tried, failure.getMessage(), last),
                        failure);
            }
        }
    }

    /**
     * Worker {@code worker}'s sequence of {@code tried}, against its own model; {@code handOffs} is the queue shared
     * with the others. After each step every block it holds must still hold its byte.
     */
    private static Outcome work(MemAlloc alloc, Case tried, int worker, Queue<Live> handOffs) {
        List<Operation> operations = tried.workers().get(worker);
        List<Live> model = new ArrayList<>();
        List<String> done = new ArrayList<>();
        int step = 0;
        try {
            for (; step < operations.size(); step++) {
                Operation operation = operations.get(step);
                String outcome = apply(alloc, model, handOffs, operation, worker, step);
                done.add(step + " " + operation + outcome);
                for (Live block : model) {
                    assertThat(mismatch(block.segment(), block.value(), block.segment().byteSize()))
                            .as("after the step, the block %s held", block).isEqualTo(-1);
                }
            }
            return new Outcome(model, done);
        } catch (AssertionError | RuntimeException failure) {
            throw new AssertionError(String.format("%s: worker %d (%s thread), step %d (%s) failed: %s%n  its"
                    + " operations so far: %s", tried, worker, worker < WORKERS - 1 ? "a platform" : "the virtual",
                    step, operations.get(step), failure.getMessage(), lastOf(done)), failure);
        }
    }

    /** Applies one step to the allocator and the model, checking the blocks it touches; says what it did. */
    private static String apply(MemAlloc alloc, List<Live> model, Queue<Live> handOffs, Operation operation,
                                int worker, int step) {
        int value = 1 + worker * PER_WORKER + step % PER_WORKER;
        return switch (operation) {
            case Allocate(long size, long alignment, boolean zeroed) -> {
                MemorySegment segment = zeroed ? alloc.allocate(size, alignment)
                        : alloc.allocateUninitialized(size, alignment);
                assertThat(segment.byteSize()).isEqualTo(size);
                assertThat(segment.address() % alignment).as("alignment %d of 0x%x", alignment, segment.address())
                        .isZero();
                if (zeroed) {
                    assertThat(mismatch(segment, 0, size)).as("a fresh zeroed block at 0x%x", segment.address())
                            .isEqualTo(-1);
                }
                segment.fill((byte) value);
                Live block = new Live(segment, alignment, value, worker, step);
                assertHeld(block, "the block filled");
                model.add(block);
                yield " -> " + block;
            }
            case Free(int index) -> {
                if (model.isEmpty()) {
                    yield " -> none live";
                }
                Live block = model.remove(index % model.size());
                assertHeld(block, "the block to free");
                alloc.free(block.segment());
                yield " -> freed " + block;
            }
            case Reallocate(int index, long newSize) -> {
                if (model.isEmpty()) {
                    yield " -> none live";
                }
                int i = index % model.size();
                Live block = model.get(i);
                assertHeld(block, "the block to reallocate");
                long oldSize = block.segment().byteSize();
                MemorySegment resized = alloc.reallocate(block.segment(), newSize);
                assertThat(resized.byteSize()).isEqualTo(newSize);
                assertThat(resized.address() % block.alignment()).as("alignment %d kept by the move of %s to 0x%x",
                        block.alignment(), block, resized.address()).isZero();
                long kept = Math.min(oldSize, newSize);
                assertThat(mismatch(resized, block.value(), kept)).as("content of %s kept at 0x%x", block,
                        resized.address()).isEqualTo(-1);
                if (newSize > oldSize) {
                    assertThat(mismatch(resized.asSlice(oldSize), 0, newSize - oldSize))
                            .as("the bytes %s gained at 0x%x", block, resized.address()).isEqualTo(-1);
                }
                resized.fill((byte) value);
                Live moved = new Live(resized, block.alignment(), value, worker, step);
                assertHeld(moved, "the block reallocated and filled");
                model.set(i, moved);
                yield " -> " + block + " now " + moved;
            }
            case HandOff(int index) -> {
                if (model.isEmpty()) {
                    yield " -> none live";
                }
                Live block = model.remove(index % model.size());
                assertHeld(block, "the block handed off");
                handOffs.add(block);
                yield " -> handed off " + block;
            }
            case Adopt() -> {
                Live block = handOffs.poll();
                if (block == null) {
                    yield " -> queue empty";
                }
                assertHeld(block, "the block adopted");
                model.add(block);
                yield " -> adopted " + block;
            }
        };
    }

    private static void assertHeld(Live block, String what) {
        assertThat(mismatch(block.segment(), block.value(), block.segment().byteSize())).as("%s, %s", what, block)
                .isEqualTo(-1);
    }

    /**
     * The allocator and the union of the workers' models and the queue agree: contents, alignment, no overlap,
     * counters; the heap verifies; and once all is freed, from this thread, nothing is left.
     */
    private static void assertUnionAgrees(MemAlloc alloc, Case tried, List<Outcome> outcomes, List<Live> queued)
            throws InterruptedException {
        List<Live> union = new ArrayList<>(queued);
        for (Outcome outcome : outcomes) {
            union.addAll(outcome.model());
        }
        long bytes = 0;
        for (Live block : union) {
            MemorySegment segment = block.segment();
            assertThat(segment.address() % block.alignment()).as("alignment of %s", block).isZero();
            assertHeld(block, "a block left live");
            bytes += segment.byteSize();
        }
        List<Live> byAddress = new ArrayList<>(union);
        byAddress.sort(Comparator.comparingLong(block -> block.segment().address()));
        for (int i = 1; i < byAddress.size(); i++) {
            Live before = byAddress.get(i - 1);
            // Zero-size blocks still get distinct addresses.
            assertThat(byAddress.get(i).segment().address()).as("%s and %s overlap", before, byAddress.get(i))
                    .isGreaterThanOrEqualTo(before.segment().address() + Math.max(1, before.segment().byteSize()));
        }
        AllocatorStats stats = alloc.stats();
        assertThat(stats.liveAllocations()).as("live allocations (%d queued)", queued.size()).isEqualTo(union.size());
        assertThat(stats.allocatedBytes()).as("allocated bytes").isEqualTo(bytes);
        alloc.verifyHeap();

        for (Live block : union) {
            alloc.free(block.segment());
        }
        alloc.verifyHeap();
        assertThat(alloc.stats().liveAllocations()).as("live allocations once all were freed").isZero();
        assertThat(alloc.stats().allocatedBytes()).as("allocated bytes once all were freed").isZero();
        // The workers are dead to isAlive (joined): their pages go back once MemAlloc finds them ended.
        EndedThreads.awaitRegionsGivenBack(alloc);
        assertThat(alloc.stats().mappedBytes()).as("mapped once all was freed and trimmed (%s)", tried).isZero();
    }

    /** The last {@link #SHOWN} lines of {@code done}, saying how many came before them. */
    private static String lastOf(List<String> done) {
        int from = Math.max(0, done.size() - SHOWN);
        return (from == 0 ? "" : "(" + from + " earlier)") + String.join("", done.subList(from, done.size()).stream()
                .map(line -> System.lineSeparator() + "    " + line).toList());
    }

    /** The first offset below {@code length} where {@code segment} does not hold {@code value}, or -1. */
    private static long mismatch(MemorySegment segment, int value, long length) {
        return Contents.exactMismatch(segment, value, length);
    }
}
