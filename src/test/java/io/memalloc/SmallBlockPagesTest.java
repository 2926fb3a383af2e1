package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Small blocks (up to 1 KiB) from pages that threads own, through the public API: what a write past one can reach,
 * frees from other threads, threads that end or only free, virtual threads, double frees, zeroing and reallocation.
 */
@Timeout(60) // guards a hang only: every wait below has its own bound
class SmallBlockPagesTest {
    private static final long REGION = 1 << 20;

    private static MemAlloc allocator() {
        return MemAlloc.builder().regionSize(REGION).cachedRegions(0).build();
    }

    @SuppressWarnings("restricted")
    private static MemorySegment widened(MemorySegment segment, long byteSize) {
        return MemorySegment.ofAddress(segment.address()).reinterpret(byteSize);
    }

    /** A segment in {@code block}'s scope at {@code offset} bytes from it: the address a buggy caller might free. */
    @SuppressWarnings("restricted")
    private static MemorySegment inScope(MemorySegment block, long offset) {
        return block.reinterpret(offset + 1).asSlice(offset);
    }

    @Test
    void aWritePastASmallBlockReachesOnlyTheNextBlocksBytesAndTheHeapGoesOn() {
        try (MemAlloc alloc = allocator()) {
            MemorySegment a = alloc.allocate(48, 16);
            MemorySegment b = alloc.allocate(48, 16);
            MemorySegment c = alloc.allocate(48, 16);
            assertThat(b.address()).as("neighbours in one page").isEqualTo(a.address() + 48);
            Contents.fill(a, 1);
            Contents.fill(b, 2);
            Contents.fill(c, 3);

            widened(a, 49).set(JAVA_BYTE, 48, (byte) 9); // one byte past a, as a native library might

            assertThat(b.get(JAVA_BYTE, 0)).isEqualTo((byte) 9);
            assertThat(Contents.firstMismatch(b.asSlice(1), 2)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(c, 3)).isEqualTo(-1);
            alloc.verifyHeap();
            alloc.free(a);
            alloc.free(b);
            MemorySegment again1 = alloc.allocate(48, 16);
            MemorySegment again2 = alloc.allocate(48, 16);
            assertThat(List.of(again1.address(), again2.address())).containsExactlyInAnyOrder(a.address(), b.address());
            alloc.free(again1);
            alloc.free(again2);
            alloc.free(c);
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }

    @Test
    void blocksAnotherThreadFreedComeBackToTheirOwnerWithoutANewMapping() throws Exception {
        try (MemAlloc alloc = allocator()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 3_000; i++) { // more than a page of 64-byte blocks
                blocks.add(alloc.allocate(64, 16));
            }
            long regions = alloc.stats().regionCount();
            long maps = alloc.stats().mapCount();
            Thread consumer = Thread.ofPlatform().start(() -> blocks.forEach(alloc::free));
            consumer.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(consumer.isAlive()).isFalse();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().regionCount()).as("a thread that only frees takes no page").isEqualTo(regions);

            List<MemorySegment> again = new ArrayList<>();
            for (int i = 0; i < 3_000; i++) {
                again.add(alloc.allocate(64, 16));
            }
            assertThat(alloc.stats().mapCount()).as("the freed blocks were collected and reused").isEqualTo(maps);
            Set<Long> old = new HashSet<>(blocks.stream().map(MemorySegment::address).toList());
            long reused = again.stream().filter(block -> old.contains(block.address())).count();
            // The current page's blocks never handed out go first; then the collected ones.
            assertThat(reused).as("blocks freed by the other thread, handed out again").isGreaterThanOrEqualTo(3_000 - 1_024);
            again.forEach(alloc::free);
            alloc.verifyHeap();
        }
    }

    @Test
    void theSmallBlockPagesOfAThreadThatEndedGoBackWithoutATrim() throws Exception {
        try (MemAlloc alloc = allocator()) {
            ConcurrentLinkedQueue<MemorySegment> made = new ConcurrentLinkedQueue<>();
            Thread producer = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2_000; i++) {
                    made.add(alloc.allocate(16 + 16 * (i % 20), 16)); // many size classes, many pages
                }
            });
            producer.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(alloc.stats().regionCount()).isPositive();
            made.forEach(alloc::free); // into the pages of a thread that has ended

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (alloc.stats().regionCount() > 0 && System.nanoTime() - deadline < 0) {
                Thread.sleep(20);
            }
            assertThat(alloc.stats().regionCount()).as("regions left, no trim called").isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }

    @Test
    void aThousandVirtualThreadsShareAFewHeapsAndKeepNoPagesOfTheirOwn() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).build()) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 1_000; t++) {
                int value = 1 + t % 250;
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        List<MemorySegment> mine = new ArrayList<>();
                        for (int i = 0; i < 10; i++) {
                            MemorySegment block = alloc.allocate(32 << (i % 3), 16); // 32, 64 or 128 bytes
                            Contents.fill(block, value);
                            mine.add(block);
                            LockSupport.parkNanos(1_000); // unmounts: a claim is never held across a park
                        }
                        for (MemorySegment block : mine) {
                            if (Contents.firstMismatch(block, value) != -1) {
                                throw new AssertionError("a block changed under its owner: " + block);
                            }
                            alloc.free(block);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertThat(failure.get()).isNull();
            assertThat(alloc.stats().liveAllocations()).isZero();
            // Shared heaps (one per stripe) with three classes each: a few pages, one region of 16 pages; a page set
            // per virtual thread would have needed about 190 regions.
            assertThat(alloc.stats().regionCount()).isLessThanOrEqualTo(2);
            alloc.verifyHeap();
        }
    }

    @Test
    void aDoubleFreeOfASmallBlockIsRefusedOnTheSameThreadAndOnAnother() throws Exception {
        try (MemAlloc alloc = allocator()) {
            MemorySegment kept = alloc.allocate(64, 16); // so that the page stays while its neighbour is freed
            MemorySegment a = alloc.allocate(64, 16);
            alloc.free(a);
            assertThatThrownBy(() -> alloc.free(a)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not the start of a live block");

            MemorySegment b = alloc.allocate(100, 16);
            Thread other = Thread.ofPlatform().start(() -> alloc.free(b)); // a remote free
            other.join(TimeUnit.SECONDS.toMillis(30));
            assertThatThrownBy(() -> alloc.free(b)).as("the owner, after the other thread's free")
                    .isInstanceOf(IllegalArgumentException.class);
            AtomicReference<Throwable> second = new AtomicReference<>();
            Thread again = Thread.ofPlatform().start(() -> {
                try {
                    alloc.free(b);
                } catch (IllegalArgumentException refused) {
                    second.set(refused);
                }
            });
            again.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(second.get()).as("another thread, after the first free").isInstanceOf(IllegalArgumentException.class);

            assertThatThrownBy(() -> alloc.free(kept.asSlice(16))).as("an interior address")
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.free(inScope(kept, 5 * 64)))
                    .as("a block of the page never handed out").isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not the start of a live block");
            alloc.free(kept);
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }

    @Test
    void allocateZeroesARecycledSmallBlockAndAllocateUninitializedLeavesItAsItWas() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).build()) {
            MemorySegment first = alloc.allocate(64, 16);
            Contents.fill(first, 0x5A);
            alloc.free(first);
            MemorySegment zeroed = alloc.allocate(64, 16);
            assertThat(zeroed.address()).as("the same block, recycled").isEqualTo(first.address());
            assertThat(Contents.firstMismatch(zeroed, 0)).isEqualTo(-1);
            Contents.fill(zeroed, 0x5A);
            alloc.free(zeroed);
            MemorySegment raw = alloc.allocateUninitialized(64, 16);
            assertThat(raw.address()).isEqualTo(first.address());
            assertThat(Contents.firstMismatch(raw, 0x5A)).as("not zeroed").isEqualTo(-1);
            alloc.free(raw);
        }
    }

    @Test
    void reallocateStaysInPlaceWithinTheSizeClassAndMovesAcrossClassesKeepingTheContent() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(REGION).build()) {
            MemorySegment block = alloc.allocateUninitialized(40, 16); // a 48-byte block
            Contents.fill(block, 7);
            widened(block, 48).asSlice(40).fill((byte) 0x33); // junk in the slack

            MemorySegment grown = alloc.reallocate(block, 48);
            assertThat(grown.address()).isEqualTo(block.address());
            assertThat(Contents.firstMismatch(grown.asSlice(0, 40), 7)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(grown.asSlice(40), 0)).as("growth reads as zero").isEqualTo(-1);
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(48);

            MemorySegment moved = alloc.reallocate(grown, 500);
            assertThat(moved.address()).isNotEqualTo(grown.address());
            assertThat(Contents.firstMismatch(moved.asSlice(0, 40), 7)).isEqualTo(-1);
            assertThat(Contents.firstMismatch(moved.asSlice(48), 0)).isEqualTo(-1);
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(500);
            assertThatThrownBy(() -> alloc.free(grown)).as("the old block went").isInstanceOf(IllegalArgumentException.class);

            MemorySegment large = alloc.reallocate(moved, 5_000); // to a stripe block
            assertThat(Contents.firstMismatch(large.asSlice(0, 40), 7)).isEqualTo(-1);
            MemorySegment small = alloc.reallocate(large, 20); // a stripe block shrinks in place
            assertThat(Contents.firstMismatch(small, 7)).isEqualTo(-1);
            alloc.free(small);
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }
}
