package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Property-based tests: random sequences of allocate, allocate uninitialized, free, reallocate, trim and verify,
 * run on a private allocator (64 KiB regions, so that requests above 32 KiB get mappings of their own; one or two
 * stripes; hardened or not) against a model, the list of live blocks with the size, alignment and byte each was
 * given. After every operation the two must agree: every block holds its byte over its whole size, sits at its
 * alignment and overlaps no other; {@code stats()} counts the model's blocks and bytes; {@code verifyHeap()} passes.
 *
 * <p>The generator and the shrinker are this class's own (a seeded {@link SplittableRandom}, then delta debugging:
 * drop runs of operations while the failure stays), so that a failure is reported as the shortest sequence found,
 * with its seed, and no library is needed. {@code RandomizedTest} runs longer fixed workloads; this one runs many
 * short, varied ones. The tries are bounded so that the class runs in a few seconds.
 */
class HeapModelPropertyTest {
    private static final int TRIES = 400;
    private static final int MAX_OPERATIONS = 150;
    private static final long REGION = 64 * 1024;
    /** Sizes go up to here: past half a region, so that large blocks come and go too. */
    private static final long MAX_SIZE = 3 * REGION / 2;
    /** Blocks are filled with bytes 1 to VALUES, each compared byte for byte ({@link Contents#exactMismatch}). */
    private static final int VALUES = 31;

    /** One step of a sequence. */
    sealed interface Operation permits Allocate, Free, Reallocate, Trim, Verify {}

    /** {@code allocate(size, alignment)}, or {@code allocateUninitialized} when not {@code zeroed}. */
    record Allocate(long size, long alignment, boolean zeroed) implements Operation {}

    /** Frees live block {@code index} modulo the live count (nothing when none is live). */
    record Free(int index) implements Operation {}

    /** Reallocates live block {@code index} modulo the live count to {@code newSize}. */
    record Reallocate(int index, long newSize) implements Operation {}

    record Trim() implements Operation {}

    record Verify() implements Operation {}

    /** A live block of the model: its segment, the alignment asked, and the byte it holds. */
    private record Live(MemorySegment segment, long alignment, int value) {}

    /** One try: the allocator's shape and what is done to it. */
    private record Case(long seed, int stripes, boolean hardened, List<Operation> operations) {
        Case with(List<Operation> fewer) {
            return new Case(seed, stripes, hardened, fewer);
        }

        @Override
        public String toString() {
            return "seed " + seed + ", " + stripes + " stripes, " + (hardened ? "hardened" : "not hardened") + ", "
                    + operations.size() + " operations: " + operations;
        }
    }

    @Test
    void everyOperationLeavesTheAllocatorAgreeingWithTheModel() {
        SplittableRandom seeds = new SplittableRandom(0x6D656D616C6CL);
        for (int i = 0; i < TRIES; i++) {
            long seed = seeds.nextLong();
            Case generated = generate(seed);
            Throwable failure = failureOf(generated);
            if (failure != null) {
                Case shortest = shrink(generated);
                throw new AssertionError("the allocator and the model disagree; shortest sequence found: " + shortest,
                        failureOf(shortest));
            }
        }
    }

    private static Case generate(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int count = 1 + random.nextInt(MAX_OPERATIONS);
        List<Operation> operations = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int pick = random.nextInt(85);
            operations.add(pick < 35 ? new Allocate(size(random), alignment(random), random.nextBoolean())
                    : pick < 60 ? new Free(random.nextInt(1_000))
                    : pick < 80 ? new Reallocate(random.nextInt(1_000), size(random))
                    : pick < 82 ? new Trim()
                    : new Verify());
        }
        return new Case(seed, 1 + random.nextInt(2), random.nextBoolean(), operations);
    }

    /** Mostly small, sometimes up to 8 KiB, now and then up to a large block (64 KiB regions). */
    static long size(SplittableRandom random) {
        int pick = random.nextInt(10);
        return random.nextLong(1 + (pick < 6 ? 256 : pick < 9 ? 8 * 1024 : MAX_SIZE));
    }

    /** Mostly up to 16, sometimes up to a page, now and then up to 64 KiB. */
    static long alignment(SplittableRandom random) {
        int pick = random.nextInt(6);
        return 1L << (pick < 3 ? random.nextInt(5) : pick < 5 ? 5 + random.nextInt(8) : 13 + random.nextInt(4));
    }

    /**
     * A shorter case that still fails: drops runs of operations, halving the run length when none can go
     * (delta debugging, Zeller 2002). Each step keeps the failure, so the result fails too.
     */
    private static Case shrink(Case failing) {
        Case current = failing;
        int chunk = Math.max(1, current.operations().size() / 2);
        while (true) {
            boolean dropped = false;
            for (int start = 0; start + chunk <= current.operations().size(); ) {
                List<Operation> fewer = new ArrayList<>(current.operations().subList(0, start));
                fewer.addAll(current.operations().subList(start + chunk, current.operations().size()));
                Case candidate = current.with(fewer);
                if (failureOf(candidate) != null) {
                    current = candidate;
                    dropped = true;
                } else {
                    start += chunk;
                }
            }
            if (!dropped) {
                if (chunk == 1) {
                    return current;
                }
                chunk /= 2;
            }
        }
    }

    /** What went wrong when {@code tried} ran, or null when the allocator and the model agreed throughout. */
    private static Throwable failureOf(Case tried) {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(tried.stripes()).cachedRegions(1)
                .hardened(tried.hardened()).build()) {
            List<Live> model = new ArrayList<>();
            int step = 0;
            for (Operation operation : tried.operations()) {
                apply(alloc, model, operation, step);
                assertAgree(alloc, model, step, operation);
                step++;
            }
            for (Live block : model) {
                alloc.free(block.segment());
            }
            model.clear();
            alloc.trim();
            assertAgree(alloc, model, step, new Trim());
            assertThat(alloc.stats().mappedBytes()).as("mapped after everything was freed and trimmed").isZero();
            return null;
        } catch (AssertionError | RuntimeException failure) {
            return failure;
        }
    }

    private static void apply(MemAlloc alloc, List<Live> model, Operation operation, int step) {
        switch (operation) {
            case Allocate(long size, long alignment, boolean zeroed) -> {
                MemorySegment segment = zeroed ? alloc.allocate(size, alignment)
                        : alloc.allocateUninitialized(size, alignment);
                assertThat(segment.byteSize()).isEqualTo(size);
                if (zeroed) {
                    assertThat(mismatch(segment, 0, size)).as("step %d, %s: a fresh zeroed block at 0x%x", step,
                            operation, segment.address()).isEqualTo(-1);
                }
                int value = 1 + step % VALUES;
                segment.fill((byte) value);
                model.add(new Live(segment, alignment, value));
            }
            case Free(int index) -> {
                if (!model.isEmpty()) {
                    alloc.free(model.remove(index % model.size()).segment());
                }
            }
            case Reallocate(int index, long newSize) -> {
                if (!model.isEmpty()) {
                    int i = index % model.size();
                    Live block = model.get(i);
                    long oldSize = block.segment().byteSize();
                    MemorySegment resized = alloc.reallocate(block.segment(), newSize);
                    assertThat(resized.byteSize()).isEqualTo(newSize);
                    long kept = Math.min(oldSize, newSize);
                    assertThat(mismatch(resized, block.value(), kept)).as("step %d, %s: content kept from 0x%x to 0x%x",
                            step, operation, block.segment().address(), resized.address()).isEqualTo(-1);
                    if (newSize > oldSize) {
                        assertThat(mismatch(resized.asSlice(oldSize), 0, newSize - oldSize))
                                .as("step %d, %s: growth from %d bytes", step, operation, oldSize).isEqualTo(-1);
                    }
                    int value = 1 + step % VALUES;
                    resized.fill((byte) value);
                    model.set(i, new Live(resized, block.alignment(), value));
                }
            }
            case Trim() -> assertThat(alloc.trim()).isNotNegative();
            case Verify() -> alloc.verifyHeap();
        }
    }

    /** The allocator and the model agree: contents, alignment, no overlap, counters; and the heap verifies. */
    private static void assertAgree(MemAlloc alloc, List<Live> model, int step, Operation operation) {
        String where = "after step " + step + ", " + operation;
        long bytes = 0;
        for (Live block : model) {
            MemorySegment segment = block.segment();
            assertThat(segment.address() % block.alignment()).as("%s: alignment %d of 0x%x", where,
                    block.alignment(), segment.address()).isZero();
            assertThat(mismatch(segment, block.value(), segment.byteSize()))
                    .as("%s: the block at 0x%x of %d bytes, filled with %d", where, segment.address(),
                            segment.byteSize(), block.value()).isEqualTo(-1);
            bytes += segment.byteSize();
        }
        List<MemorySegment> byAddress = new ArrayList<>(model.stream().map(Live::segment).toList());
        byAddress.sort(Comparator.comparingLong(MemorySegment::address));
        for (int i = 1; i < byAddress.size(); i++) {
            MemorySegment before = byAddress.get(i - 1);
            // Zero-size blocks still get distinct addresses.
            assertThat(byAddress.get(i).address()).as("%s: blocks at 0x%x (%d bytes) and 0x%x overlap", where,
                    before.address(), before.byteSize(), byAddress.get(i).address())
                    .isGreaterThanOrEqualTo(before.address() + Math.max(1, before.byteSize()));
        }
        AllocatorStats stats = alloc.stats();
        assertThat(stats.liveAllocations()).as("%s: live allocations", where).isEqualTo(model.size());
        assertThat(stats.allocatedBytes()).as("%s: allocated bytes", where).isEqualTo(bytes);
        alloc.verifyHeap();
    }

    /** The first offset below {@code length} where {@code segment} does not hold {@code value}, or -1. */
    private static long mismatch(MemorySegment segment, int value, long length) {
        return Contents.exactMismatch(segment, value, length);
    }
}
