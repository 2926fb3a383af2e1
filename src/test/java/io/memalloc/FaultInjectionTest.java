package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import io.memalloc.internal.heap.Heap;
import io.memalloc.internal.heap.HeapConfig;
import io.memalloc.internal.heap.HeapStats;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Faults injected under the heap through {@link FaultyOsMemory}. Each gives a clear exception, and the allocator
 * stays consistent: {@code verifyHeap()} passes, its mapped bytes and mappings are what the OS layer holds, every
 * live block keeps its bytes, and requests are served again once the fault is gone.
 */
class FaultInjectionTest {
    private static final long REGION = 64 * 1024;
    /** A request above the small blocks' 1 KiB: a block of a stripe's region, beside the others. */
    private static final long MEDIUM = 2000;
    private static final long KIB = 1024;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    /** One stripe and no cached empty region: every region that empties is unmapped at once. */
    private static MemAlloc allocator(FaultyOsMemory os) {
        return MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(0).build(os);
    }

    /** What a large block of {@code size} bytes maps: whole pages. */
    private static long pages(long size, FaultyOsMemory os) {
        return (size + os.pageSize() - 1) / os.pageSize() * os.pageSize();
    }

    /** The heap's own checks, and its counts against what the OS layer saw. */
    private static void assertConsistent(MemAlloc alloc, FaultyOsMemory os) {
        alloc.verifyHeap();
        assertOsAgrees(alloc.stats().mappedBytes(), alloc.stats().mapCount() - alloc.stats().unmapCount(), os);
    }

    private static void assertConsistent(Heap heap, FaultyOsMemory os) {
        heap.verify();
        HeapStats stats = heap.stats();
        assertOsAgrees(stats.mappedBytes(), stats.mapCount() - stats.unmapCount(), os);
    }

    private static void assertOsAgrees(long mappedBytes, long mappings, FaultyOsMemory os) {
        assertThat(mappedBytes).as("mapped bytes, against what the OS layer holds").isEqualTo(os.mappedBytes());
        assertThat(mappings).as("maps less unmaps, against the mappings the OS layer holds")
                .isEqualTo(os.mappingCount());
        assertThat(os.misuses()).as("calls that broke the OS layer's contract").isEmpty();
    }

    // A workload, and a fault at each of its calls in turn.

    /** What a step does when the OS refuses an unmap during it. */
    private enum OnRefusedUnmap {
        /** Throws once its work is done: a free, an arena's close. */
        THROWS,
        /** Logs it, since it must return the block it made: an allocate, a reallocate. */
        LOGS,
        /** Throws when the mapping is still owed at its end: a trim, which tries owed mappings again. */
        THROWS_IF_STILL_OWED
    }

    private record Step(String name, OnRefusedUnmap onRefusedUnmap, Runnable action) {}

    /** A segment and the byte it is filled with. */
    private record Filled(MemorySegment segment, int value) {}

    /**
     * Small, large, reallocate and arena operations on one allocator, then frees and a trim. A step changes the
     * state only when it succeeds (a free that throws because the OS refused an unmap has freed its block); every
     * live block and arena segment holds a byte of its own.
     */
    private static final class Workload {
        private final MemAlloc alloc;
        private final Map<String, Filled> blocks = new LinkedHashMap<>();
        private final List<Filled> arenaSegments = new ArrayList<>();
        private MemArena arena;
        private int nextValue = 1;

        Workload(MemAlloc alloc) {
            this.alloc = alloc;
        }

        List<Step> steps() {
            List<Step> steps = new ArrayList<>();
            for (int i = 1; i <= 8; i++) { // two regions' worth
                String name = "s" + i;
                steps.add(new Step("allocate " + name, OnRefusedUnmap.LOGS, () -> allocate(name, 10_000)));
            }
            steps.add(new Step("allocate a large block", OnRefusedUnmap.LOGS, () -> allocate("L", 100_000)));
            steps.add(new Step("reallocate s1 to a large size", OnRefusedUnmap.LOGS, () -> reallocate("s1", 200_000)));
            steps.add(new Step("reallocate the large block, larger", OnRefusedUnmap.LOGS, () -> reallocate("L", 300_000)));
            steps.add(new Step("reallocate s2 to a large size", OnRefusedUnmap.LOGS, () -> reallocate("s2", 40_000)));
            steps.add(new Step("reallocate the large block to a small size", OnRefusedUnmap.LOGS, () -> reallocate("L", 20_000)));
            steps.add(new Step("open an arena", OnRefusedUnmap.LOGS, () -> arena = alloc.newConfinedArena()));
            for (int i = 0; i < 4; i++) { // 6,000-byte slices of 16 KiB chunks: refills
                steps.add(new Step("allocate in the arena", OnRefusedUnmap.LOGS, () -> arenaAllocate(6_000)));
            }
            steps.add(new Step("allocate a block of its own in the arena", OnRefusedUnmap.LOGS, () -> arenaAllocate(40_000)));
            for (String name : List.of("s3", "s4", "s5", "s6", "s7", "s8", "s1", "L")) {
                steps.add(new Step("free " + name, OnRefusedUnmap.THROWS, () -> free(name)));
            }
            steps.add(new Step("close the arena", OnRefusedUnmap.THROWS, this::closeArena));
            steps.add(new Step("free s2", OnRefusedUnmap.THROWS, () -> free("s2")));
            steps.add(new Step("trim", OnRefusedUnmap.THROWS_IF_STILL_OWED, alloc::trim));
            return steps;
        }

        private void allocate(String name, long size) {
            MemorySegment segment = alloc.allocate(size, 16);
            assertThat(Contents.firstMismatch(segment, 0)).as("%s zeroed", name).isEqualTo(-1);
            int value = nextValue++;
            Contents.fill(segment, value);
            blocks.put(name, new Filled(segment, value));
        }

        private void reallocate(String name, long size) {
            Filled old = blocks.get(name);
            MemorySegment moved = alloc.reallocate(old.segment(), size);
            long kept = Math.min(old.segment().byteSize(), size);
            assertThat(Contents.firstMismatch(moved, kept, old.value())).as("%s kept", name).isEqualTo(-1);
            if (size > kept) {
                assertThat(Contents.firstMismatch(moved.asSlice(kept), 0)).as("%s grown with zeros", name)
                        .isEqualTo(-1);
            }
            Contents.fill(moved, old.value());
            blocks.put(name, new Filled(moved, old.value()));
        }

        private void free(String name) {
            alloc.free(blocks.remove(name).segment());
        }

        private void arenaAllocate(long size) {
            MemorySegment segment = arena.allocate(size, 8);
            int value = nextValue++;
            Contents.fill(segment, value);
            arenaSegments.add(new Filled(segment, value));
        }

        private void closeArena() {
            arenaSegments.clear();
            MemArena closing = arena;
            arena = null;
            closing.close();
        }

        void assertContents() {
            blocks.forEach((name, block) -> assertThat(Contents.firstMismatch(block.segment(), block.value()))
                    .as("content of %s", name).isEqualTo(-1));
            for (Filled slice : arenaSegments) {
                assertThat(Contents.firstMismatch(slice.segment(), slice.value())).as("an arena slice").isEqualTo(-1);
            }
        }
    }

    /** How many calls of a kind the workload and a close make when nothing fails. */
    private static int callsOfAPlainRun(ToIntFunction<FaultyOsMemory> calls) {
        FaultyOsMemory os = new FaultyOsMemory();
        MemAlloc alloc = allocator(os);
        for (Step step : new Workload(alloc).steps()) {
            step.action().run();
        }
        alloc.close();
        assertThat(os.mappingCount()).as("mappings left by a plain run").isZero();
        return calls.applyAsInt(os);
    }

    @Test
    void aMapFailingAtAnyCallOfTheWorkloadIsOutOfMemoryAndTheSameRequestIsServedOnceTheFaultIsGone() {
        int maps = callsOfAPlainRun(FaultyOsMemory::maps);
        assertThat(maps).as("maps in a plain run").isGreaterThanOrEqualTo(6);
        for (int n = 1; n <= maps; n++) {
            FaultyOsMemory os = new FaultyOsMemory().failMap(n);
            MemAlloc alloc = allocator(os);
            Workload workload = new Workload(alloc);
            List<String> failed = new ArrayList<>();
            for (Step step : workload.steps()) {
                Throwable thrown = catchThrowable(() -> step.action().run());
                if (thrown != null) {
                    assertThat(thrown).as("map %d refused, at %s", n, step.name())
                            .isInstanceOf(OutOfMemoryError.class).hasMessageContaining("injected: mmap");
                    failed.add(step.name());
                    assertConsistent(alloc, os);
                    workload.assertContents();
                    step.action().run();
                }
                assertConsistent(alloc, os);
                workload.assertContents();
            }
            assertThat(failed).as("steps that failed with map %d refused", n).hasSize(1);
            alloc.close();
            assertThat(os.mappingCount()).as("mappings left after close, map %d refused", n).isZero();
        }
    }

    @Test
    void anUnmapRefusedAtAnyCallOfTheWorkloadIsThrownOnceTheStepIsDoneAndTheMappingGoesBackAtTheNextTrimOrClose() {
        int unmaps = callsOfAPlainRun(FaultyOsMemory::unmaps);
        assertThat(unmaps).as("unmaps in a plain run").isGreaterThanOrEqualTo(6);
        for (int n = 1; n <= unmaps; n++) {
            FaultyOsMemory os = new FaultyOsMemory().failUnmap(n);
            MemAlloc alloc = allocator(os);
            Workload workload = new Workload(alloc);
            boolean stillOwed = false;
            for (Step step : workload.steps()) {
                int faultsBefore = os.faults();
                Throwable thrown = catchThrowable(() -> step.action().run());
                boolean refusedHere = os.faults() > faultsBefore;
                boolean owed = alloc.heapMap().contains("owed");
                boolean expectThrow = refusedHere && switch (step.onRefusedUnmap()) {
                    case THROWS -> true;
                    case LOGS -> false;
                    case THROWS_IF_STILL_OWED -> owed;
                };
                if (expectThrow) {
                    assertThat(thrown).as("unmap %d refused, at %s", n, step.name())
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("did not take back")
                            .rootCause().hasMessageContaining("injected: munmap");
                } else {
                    assertThat(thrown).as("unmap %d refused, then %s", n, step.name()).isNull();
                }
                if (step.onRefusedUnmap() == OnRefusedUnmap.THROWS_IF_STILL_OWED) {
                    stillOwed = thrown != null; // a trim gives back what was owed before it
                } else {
                    stillOwed |= refusedHere;
                }
                assertThat(owed).as("a mapping owed after %s, unmap %d refused", step.name(), n).isEqualTo(stillOwed);
                List<String> logged = log.take();
                if (refusedHere && step.onRefusedUnmap() == OnRefusedUnmap.LOGS) {
                    assertThat(logged).as("logged by %s, unmap %d refused", step.name(), n).singleElement(STRING)
                            .startsWith(LogCapture.unmapRefused(alloc.name()))
                            .contains("trim() and close() try again", "injected: munmap");
                } else {
                    assertThat(logged).as("logged by %s, unmap %d refused", step.name(), n).isEmpty();
                }
                assertConsistent(alloc, os);
                workload.assertContents();
            }
            int faultsBefore = os.faults();
            Throwable closing = catchThrowable(alloc::close);
            assertThat(os.faults()).as("faults injected, unmap %d refused", n).isOne();
            if (os.faults() > faultsBefore) {
                assertThat(closing).as("unmap %d refused, at close", n).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("is closed, but the OS did not take back 1 of its mappings");
                assertOsAgrees(alloc.stats().mappedBytes(),
                        alloc.stats().mapCount() - alloc.stats().unmapCount(), os);
                assertThat(os.mappingCount()).isOne();
                os.unmapEverything();
            } else {
                assertThat(closing).as("close, unmap %d refused before", n).isNull();
                assertThat(os.mappingCount()).as("mappings left after close, unmap %d refused", n).isZero();
            }
        }
    }

    // Mappings the heap cannot use.

    @ParameterizedTest(name = "a request of {0} bytes")
    @ValueSource(longs = {100, 100_000})
    void aMappingNotAlignedAsAskedIsRefusedGivenBackAndNotCounted(long size) {
        FaultyOsMemory os = new FaultyOsMemory().misalignMap(1);
        try (MemAlloc alloc = allocator(os)) {
            Throwable thrown = catchThrowable(() -> alloc.allocate(size, 16));

            assertThat(thrown).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("the OS returned 0x" + Long.toHexString(os.lastAddress()))
                    .hasMessageContaining("is not aligned to").hasMessageContaining("given back");
            assertThat(os.faults()).isOne();
            assertThat(os.mappingCount()).as("the bad mapping was given back").isZero();
            assertThat(alloc.stats().mapCount()).isZero();
            assertConsistent(alloc, os);

            MemorySegment served = alloc.allocate(size, 16);
            Contents.fill(served, 5);
            assertThat(alloc.stats().mapCount()).isOne();
            assertConsistent(alloc, os);
            alloc.free(served);
            assertConsistent(alloc, os);
        }
    }

    @ParameterizedTest(name = "0x{0}")
    @CsvSource({
            "0, it is 0",
            "100000000000000, does not lie below 0x100000000000000", // 2^56, where user address space ends
            "1000000000000000, does not lie below", // 2^60, a non-canonical address on x86-64
            "7fffffffffffffff, does not lie below", // its mapping ends past Long.MAX_VALUE
            "8000000000000000, does not lie below", // negative as a long: a kernel address
    })
    void aMappingAtAnAddressTheHeapCannotUseIsRefusedGivenBackAndNotCounted(String hexAddress, String why) {
        long address = Long.parseUnsignedLong(hexAddress, 16);
        for (long size : new long[] {100, 100_000}) { // a region, and a large block's own mapping
            FaultyOsMemory os = new FaultyOsMemory().mapAt(1, address);
            try (MemAlloc alloc = allocator(os)) {
                Throwable thrown = catchThrowable(() -> alloc.allocate(size, 16));

                assertThat(thrown).as("%d bytes", size).isInstanceOf(OutOfMemoryError.class)
                        .hasMessageContaining("the OS returned 0x" + Long.toHexString(os.lastAddress()))
                        .hasMessageContaining(why).hasMessageContaining("given back");
                assertThat(os.mappingCount()).as("the bad mapping was given back").isZero();
                assertThat(alloc.stats().mapCount()).isZero();
                assertConsistent(alloc, os);

                MemorySegment served = alloc.allocate(size, 16);
                Contents.fill(served, 6);
                alloc.free(served);
                assertConsistent(alloc, os);
            }
        }
    }

    // Unmaps the OS refuses.

    @Test
    void anUnmapRefusedWhenALargeBlockIsFreedIsThrownOnceItIsFreedAndTheMappingStaysCountedUntilTrim() {
        FaultyOsMemory os = new FaultyOsMemory();
        String name;
        try (MemAlloc alloc = allocator(os)) {
            MemorySegment large = alloc.allocate(100_000, 16);
            MemorySegment witness = alloc.allocate(100, 16);
            Contents.fill(witness, 9);
            String at = "0x" + Long.toHexString(large.address());
            os.failUnmap(1);

            assertThatThrownBy(() -> alloc.free(large)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not take back the mapping at " + at)
                    .hasMessageContaining("trim() and close() try again")
                    .cause().hasMessageContaining("injected: munmap");

            assertThat(alloc.stats().largeBlockCount()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(100);
            assertThat(alloc.stats().mappedBytes()).isEqualTo(REGION + pages(100_000, os));
            assertThat(os.holds(large.address())).as("still mapped").isTrue();
            assertThat(alloc.heapMap()).contains("owed " + at);
            assertConsistent(alloc, os);
            assertThatThrownBy(() -> alloc.free(large)).as("freed already").isInstanceOf(IllegalArgumentException.class);

            assertThat(alloc.trim()).isGreaterThanOrEqualTo(pages(100_000, os));

            assertThat(os.holds(large.address())).as("given back").isFalse();
            assertThat(alloc.stats().mappedBytes()).isEqualTo(REGION);
            assertThat(alloc.heapMap()).doesNotContain("owed");
            assertConsistent(alloc, os);
            assertThat(Contents.firstMismatch(witness, 9)).isEqualTo(-1);
            MemorySegment again = alloc.allocate(100_000, 16);
            Contents.fill(again, 3);
            alloc.free(again);
            assertConsistent(alloc, os);
            name = alloc.name();
        }
        assertThat(log.take()).as("the witness, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 1, 100));
    }

    @Test
    void anUnmapRefusedWhenAReallocateMovesALargeBlockLeavesTheMoveDoneAndTheOldMappingOwed() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = allocator(os)) {
            MemorySegment large = alloc.allocate(100_000, 16);
            Contents.fill(large, 4);
            os.failUnmap(1);

            MemorySegment moved = alloc.reallocate(large, 300_000);

            assertThat(os.faults()).isOne();
            assertThat(log.take()).as("a reallocate returns the block it made: it logs the refusal")
                    .singleElement(STRING)
                    .startsWith(LogCapture.unmapRefused(alloc.name()) + Long.toHexString(large.address()) + " (")
                    .contains("trim() and close() try again", "injected: munmap");
            assertThat(moved.address()).isNotEqualTo(large.address());
            assertThat(Contents.firstMismatch(moved, 100_000, 4)).isEqualTo(-1);
            assertThat(alloc.heapMap()).contains("owed 0x" + Long.toHexString(large.address()));
            assertThat(alloc.stats().mappedBytes()).isEqualTo(pages(100_000, os) + pages(300_000, os));
            assertConsistent(alloc, os);

            alloc.trim();
            assertThat(alloc.stats().mappedBytes()).isEqualTo(pages(300_000, os));
            assertConsistent(alloc, os);
            alloc.free(moved);
            assertConsistent(alloc, os);
        }
    }

    @Test
    void anOwedMappingCountsAgainstTheCapAndARequestAtTheCapGivesItBackFirst() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(0)
                .maxMappedBytes(256 * KIB).build(os)) {
            MemorySegment first = alloc.allocate(200_000, 16);
            os.failUnmap(1);
            assertThatThrownBy(() -> alloc.free(first)).isInstanceOf(IllegalStateException.class);
            assertThat(alloc.stats().mappedBytes()).isEqualTo(pages(200_000, os));

            MemorySegment second = alloc.allocate(200_000, 16);

            assertThat(os.mappingCount()).as("the owed mapping, given back to make room").isOne();
            assertThat(alloc.heapMap()).doesNotContain("owed");
            assertThat(alloc.stats().mappedBytes()).isEqualTo(pages(200_000, os));
            assertConsistent(alloc, os);

            os.failUnmaps(1, FaultyOsMemory.ALWAYS);
            assertThatThrownBy(() -> alloc.free(second)).isInstanceOf(IllegalStateException.class);
            Throwable refused = catchThrowable(() -> alloc.allocate(200_000, 16));
            assertThat(refused).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("maxMappedBytes is 262144");
            assertThat(refused.getSuppressed()).as("the owed mapping, refused again").hasSize(1);
            assertThat(refused.getSuppressed()[0]).hasMessageContaining("did not take back");
            assertConsistent(alloc, os);

            os.clearFaults();
            MemorySegment third = alloc.allocate(200_000, 16);
            alloc.free(third);
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertConsistent(alloc, os);
        }
    }

    @Test
    void aCachedEmptyRegionTheOsRefusesToTakeBackAtTheCapIsOwedAndTheRequestIsOutOfMemory() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(1)
                .maxMappedBytes(2 * REGION).build(os)) {
            alloc.free(alloc.allocate(100, 16));
            assertThat(alloc.stats().emptyRegionCount()).isOne();
            os.failUnmap(1);

            Throwable refused = catchThrowable(() -> alloc.allocate(100_000, 16)); // fits only without the region

            assertThat(refused).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("maxMappedBytes is 131072");
            assertThat(refused.getSuppressed()).as("the refused unmap").hasSize(1);
            assertThat(refused.getSuppressed()[0]).hasMessageContaining("did not take back");
            assertThat(alloc.stats().regionCount()).isZero();
            assertThat(alloc.stats().emptyRegionCount()).isZero();
            assertThat(alloc.stats().mappedBytes()).as("the region, owed").isEqualTo(REGION);
            assertConsistent(alloc, os);

            MemorySegment large = alloc.allocate(100_000, 16);

            assertThat(alloc.stats().mappedBytes()).isEqualTo(pages(100_000, os));
            assertConsistent(alloc, os);
            alloc.free(large);
            assertConsistent(alloc, os);
        }
    }

    @Test
    void anUnmapRefusedDuringTrimIsThrownOnceTheRestIsGivenBackAndTheNextTrimTriesAgain() {
        FaultyOsMemory os = new FaultyOsMemory();
        String name;
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(4).build(os)) {
            MemorySegment witness = alloc.allocate(MEDIUM, 16); // first, so that it shares the first region
            Contents.fill(witness, 8);
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 6; i++) { // two per region: three regions
                blocks.add(alloc.allocate(30_000, 16));
            }
            for (MemorySegment block : blocks.subList(1, 6)) {
                alloc.free(block);
            }
            assertThat(alloc.stats().emptyRegionCount()).isEqualTo(2);
            os.failUnmap(1);

            assertThatThrownBy(alloc::trim).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not take back");

            assertThat(os.unmaps()).as("both empty regions tried").isEqualTo(2);
            assertThat(os.purges()).as("the free blocks were purged all the same").isPositive();
            assertThat(alloc.stats().regionCount()).isOne();
            assertThat(alloc.stats().mappedBytes()).as("one region in use, one owed").isEqualTo(2 * REGION);
            assertConsistent(alloc, os);

            alloc.trim();
            assertThat(alloc.stats().mappedBytes()).isEqualTo(REGION);
            assertConsistent(alloc, os);
            for (int i = 0; i < 4; i++) {
                Contents.fill(alloc.allocate(30_000, 16), i);
            }
            assertConsistent(alloc, os);
            assertThat(Contents.firstMismatch(witness, 8)).isEqualTo(-1);
            name = alloc.name();
        }
        assertThat(log.take()).as("the blocks left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 6, MEDIUM + 5 * 30_000));
    }

    @Test
    void anUnmapRefusedDuringCloseStillUnmapsEverythingElseAndTheAllocatorIsClosed() {
        FaultyOsMemory os = new FaultyOsMemory();
        MemAlloc alloc = allocator(os);
        for (int i = 0; i < 8; i++) {
            alloc.allocate(10_000, 16);
        }
        alloc.allocate(100_000, 16);
        alloc.allocate(200_000, 16);
        try (MemArena arena = alloc.newConfinedArena()) {
            arena.allocate(100);
        }
        int mappings = os.mappingCount();
        assertThat(mappings).isEqualTo(4);
        os.failUnmap(2);

        Throwable thrown = catchThrowable(alloc::close);

        assertThat(thrown).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed, but the OS did not take back 1 of its mappings")
                .cause().hasMessageContaining("did not take back the mapping at");
        assertThat(log.take()).as("the blocks left to close, reported before it unmaps").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 10, 8 * 10_000 + 100_000 + 200_000));
        assertThat(os.unmaps()).as("every mapping tried").isEqualTo(mappings);
        assertThat(os.mappingCount()).isOne();
        assertOsAgrees(alloc.stats().mappedBytes(), alloc.stats().mapCount() - alloc.stats().unmapCount(), os);
        assertThatThrownBy(() -> alloc.allocate(100, 16)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(alloc::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed already");
        os.unmapEverything();
    }

    /** Regression: the drain's failure used to end close before the heap's close, leaving everything mapped. */
    @ParameterizedTest(name = "refused {0} time(s)")
    @ValueSource(ints = {1, 2})
    void anUnmapRefusedWhileCloseDrainsTheArenaChunkPoolStillClosesTheHeap(int refusals) {
        FaultyOsMemory os = new FaultyOsMemory();
        MemAlloc alloc = allocator(os);
        try (MemArena arena = alloc.newConfinedArena()) { // its chunk goes to the pool, alone in its region
            arena.allocate(100);
        }
        MemorySegment leaked = alloc.allocate(100_000, 16);
        os.failUnmaps(1, refusals);

        Throwable thrown = catchThrowable(alloc::close);

        assertThat(os.faults()).isEqualTo(refusals);
        assertThat(log.take()).as("the large block, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 1, 100_000));
        assertThat(os.holds(leaked.address())).as("the large block's mapping").isFalse();
        assertOsAgrees(alloc.stats().mappedBytes(), alloc.stats().mapCount() - alloc.stats().unmapCount(), os);
        if (refusals == 1) {
            assertThat(thrown).as("close tried the refused unmap again, and it went").isNull();
            assertThat(os.mappingCount()).isZero();
        } else {
            assertThat(thrown).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not take back 1 of its mappings");
            assertThat(thrown.getSuppressed()).as("the drain's refusal").hasSize(1);
            assertThat(os.mappingCount()).isOne();
            os.unmapEverything();
        }
    }

    /** Regression: a refused unmap while the pooled chunk went back kept the arena's other chunks from going back. */
    @Test
    void anUnmapRefusedWhenAConfinedArenaGivesBackItsFirstChunkStillGivesBackTheOthers() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = allocator(os)) {
            // Three first chunks fill a region; the fourth arena's chunk is alone in a second one.
            MemArena first = alloc.newConfinedArena();
            MemArena second = alloc.newConfinedArena();
            MemArena third = alloc.newConfinedArena();
            MemArena fourth = alloc.newConfinedArena();
            MemorySegment own = fourth.allocate(40_000); // a block of its own: a large mapping
            assertThat(alloc.stats().regionCount()).isEqualTo(2);
            first.close();
            second.close(); // the pool (two chunks with one stripe) is full now
            os.failUnmap(1);

            assertThatThrownBy(fourth::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not take back");

            assertThat(os.holds(own.address())).as("the arena's own block went back").isFalse();
            assertThat(alloc.stats().largeBlockCount()).isZero();
            assertThat(alloc.stats().allocatedBytes()).as("the third arena's chunk").isEqualTo(16 * KIB);
            assertThat(alloc.stats().arenaPoolBytes()).as("two pooled chunks").isEqualTo(2 * 16 * KIB);
            assertConsistent(alloc, os);

            third.close();
            alloc.trim();
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertConsistent(alloc, os);
        }
    }

    @Test
    void anUnmapRefusedWhenACollectedAutomaticArenaGivesItsMemoryBackIsLoggedAndTheMappingOwed()
            throws InterruptedException {
        FaultyOsMemory os = new FaultyOsMemory();
        MemAlloc alloc = allocator(os);
        os.failUnmap(1); // the block's mapping, when the cleaner's thread frees it: the next unmap of all
        openAndDropAutoArenaWithABlockOfItsOwn(alloc);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (alloc.stats().largeBlockCount() != 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.onSpinWait();
        }
        assertThat(alloc.stats().largeBlockCount()).as("the arena was collected").isZero();
        // The JDK's cleaner drops what its actions throw: the refusal reaches the log instead.
        String warning = "WARNING: MemAlloc '" + alloc.name() + "': giving back an automatic arena's memory, the OS"
                + " refused an unmap";
        while (log.mentioning("giving back an automatic arena's memory").isEmpty() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(log.take()).containsExactly(warning);
        assertConsistent(alloc, os);
        alloc.close(); // gives the owed mapping back
        assertThat(alloc.stats().mappedBytes()).isZero();
    }

    private static void openAndDropAutoArenaWithABlockOfItsOwn(MemAlloc alloc) {
        alloc.newAutoArena().allocate(40_000); // above 16 KiB: a block of its own, here a large mapping
    }

    @Test
    void aRefusedUnmapOfASpareMappingIsOwedAndTrimAndCloseTryAgain() {
        FaultyOsMemory os = new FaultyOsMemory();
        Heap heap = new Heap(os, new HeapConfig("faults", REGION, 1, Long.MAX_VALUE, 0, 2, false, false));
        long a = heap.allocate(100_000, 16, false);
        long b = heap.allocate(200_000, 16, false);
        long c = heap.allocate(300_000, 16, false);
        heap.free(a);
        heap.free(b);
        os.failUnmap(1);

        assertThatThrownBy(() -> heap.free(c)).as("c pushes a, the oldest spare, out")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("0x" + Long.toHexString(a));

        assertThat(os.holds(a)).isTrue();
        assertConsistent(heap, os);
        assertThat(heap.allocate(250_000, 16, false)).as("a spare serves a request still").isEqualTo(c);
        heap.free(c);

        os.failUnmap(1);
        assertThatThrownBy(heap::trim).isInstanceOf(IllegalStateException.class);
        assertThat(os.mappingCount()).as("one refused; the others went").isOne();
        assertConsistent(heap, os);

        os.failUnmap(1);
        assertThatThrownBy(heap::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("did not take back 1 of its mappings");
        assertThat(os.mappingCount()).isOne();
        assertThat(heap.stats().mappedBytes()).isEqualTo(os.mappedBytes());
        os.unmapEverything();
    }

    @Test
    void anUnmapRefusedWhileTrimGivesBackTheThreadsKeptPageIsThrownAndTheRegionOwed() {
        FaultyOsMemory os = new FaultyOsMemory();
        Heap heap = new Heap(os, new HeapConfig("faults", REGION, 1, Long.MAX_VALUE, 1, 0, false, false));
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) { // two pages of 64-byte blocks, each a region of its own
            blocks.add(heap.allocate(64, 16, true));
        }
        for (long block : blocks) {
            heap.free(block);
        }
        assertThat(heap.stats().regionCount()).as("one empty region kept, one holding the thread's page").isEqualTo(2);
        assertThat(heap.stats().emptyRegionCount()).isEqualTo(2);
        os.failUnmap(1);

        assertThatThrownBy(heap::trim).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("did not take back");

        assertThat(heap.stats().regionCount()).isZero();
        assertThat(heap.stats().allocatedBytes()).isZero();
        assertConsistent(heap, os);
        heap.trim();
        assertThat(os.mappingCount()).isZero();
        assertConsistent(heap, os);
        heap.free(heap.allocate(64, 16, true));
        heap.trim();
        assertConsistent(heap, os);
    }

    /** Regression-style: the quarantine's blocks all go back to their stripes, whichever unmap is refused. */
    @Test
    void anUnmapRefusedWhenTrimEmptiesTheQuarantineStillReleasesEveryBlock() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(0).hardened(true)
                .build(os)) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                blocks.add(alloc.allocate(10_000, 16));
            }
            assertThat(alloc.stats().regionCount()).isEqualTo(2);
            for (MemorySegment block : blocks) {
                alloc.free(block); // held in the quarantine
            }
            os.failUnmap(1);

            assertThatThrownBy(alloc::trim).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not take back");

            AllocatorStats stats = alloc.stats();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.regionCount()).isZero();
            assertThat(os.mappingCount()).as("the refused region").isOne();
            assertConsistent(alloc, os);
            alloc.trim();
            assertThat(os.mappingCount()).isZero();
            alloc.free(alloc.allocate(10_000, 16));
            assertConsistent(alloc, os);
        }
    }

    // Purges the OS refuses.

    @Test
    void aPurgeRefusedDuringTrimLeavesThatBlockUnpurgedPurgesTheRestAndTheNextTrimPurgesIt() {
        FaultyOsMemory os = new FaultyOsMemory();
        String name;
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).cachedRegions(1).build(os)) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 6; i++) { // free blocks of whole pages between blocks in use
                blocks.add(alloc.allocate(i % 2 == 0 ? 12_000 : MEDIUM, 16));
                Contents.fill(blocks.get(i), i + 1);
            }
            alloc.free(blocks.get(0));
            alloc.free(blocks.get(2));
            os.failPurge(1);

            assertThatThrownBy(alloc::trim).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("injected: madvise");

            int tried = os.purges();
            assertThat(tried).as("every free block tried").isGreaterThanOrEqualTo(3);
            assertThat(os.purged()).hasSize(tried - 1);
            assertConsistent(alloc, os);

            alloc.trim();
            assertThat(os.purges()).as("only the block left unpurged is purged again").isEqualTo(tried + 1);
            long[] last = os.purged().get(tried - 1);
            assertThat(os.purged().subList(0, tried - 1)).noneMatch(range -> range[0] == last[0]);
            assertConsistent(alloc, os);
            for (int i : new int[] {1, 3, 4, 5}) {
                assertThat(Contents.firstMismatch(blocks.get(i), i + 1)).isEqualTo(-1);
            }
            MemorySegment reused = alloc.allocate(12_000, 16);
            assertThat(Contents.firstMismatch(reused, 0)).as("zeroed").isEqualTo(-1);
            name = alloc.name();
        }
        assertThat(log.take()).as("the blocks left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 5, 3 * MEDIUM + 2 * 12_000));
    }

    // maxMappedBytes reached part way.

    @Test
    void aLargeReallocateThatWouldGoOverTheCapWhileBothMappingsLiveLeavesTheBlockAsItWas() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).maxMappedBytes(1024 * KIB)
                .build(os)) {
            MemorySegment block = alloc.allocate(400_000, 16);
            Contents.fill(block, 7);
            AllocatorStats before = alloc.stats();

            assertThatThrownBy(() -> alloc.reallocate(block, 700_000)).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("maxMappedBytes is 1048576").hasMessageContaining("700000 bytes");

            assertThat(alloc.stats()).isEqualTo(before);
            assertThat(Contents.firstMismatch(block, 7)).isEqualTo(-1);
            assertConsistent(alloc, os);
            Contents.fill(block, 8); // still the caller's
            MemorySegment grown = alloc.reallocate(block, 500_000);
            assertThat(Contents.firstMismatch(grown, 400_000, 8)).isEqualTo(-1);
            assertConsistent(alloc, os);
            alloc.free(grown);
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertConsistent(alloc, os);
        }
    }

    @ParameterizedTest(name = "{0} arena")
    @ValueSource(strings = {"confined", "shared"})
    void anArenaWhoseChunkRefillMeetsTheCapIsOutOfMemoryAndStaysUsableForWhatFits(String kind) {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(REGION).maxMappedBytes(2 * REGION)
                .build(os)) {
            MemArena arena = kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena();
            List<Filled> slices = new ArrayList<>();
            Throwable refused = null;
            while (refused == null && slices.size() < 100) { // 16 KiB chunks, three to a region: the 7th refill fails
                int before = arena.chunkCount();
                long allocated = arena.allocatedBytes();
                refused = catchThrowable(() -> {
                    MemorySegment slice = arena.allocate(4_000, 8);
                    Contents.fill(slice, slices.size() + 1);
                    slices.add(new Filled(slice, slices.size() + 1));
                });
                if (refused != null) {
                    assertThat(arena.chunkCount()).as("no chunk taken").isEqualTo(before);
                    assertThat(arena.allocatedBytes()).as("nothing handed out").isEqualTo(allocated);
                }
            }

            assertThat(refused).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("maxMappedBytes is 131072");
            assertThat(arena.chunkCount()).isEqualTo(6);
            assertConsistent(alloc, os);
            MemorySegment fits = arena.allocate(16, 8); // what is left of the last chunk
            Contents.fill(fits, 99);
            for (Filled slice : slices) {
                assertThat(Contents.firstMismatch(slice.segment(), slice.value())).isEqualTo(-1);
            }
            assertThat(Contents.firstMismatch(fits, 99)).isEqualTo(-1);

            assertThatCode(arena::close).doesNotThrowAnyException();
            alloc.trim();
            assertThat(alloc.stats().allocatedBytes()).isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertConsistent(alloc, os);
        }
    }
}
