package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Many arena lifetimes: a steady state with nothing mapped per arena, and no byte of one arena seen in the next. */
@Timeout(120) // guards a hang only
class MemArenaLifecycleTest {

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void thousandsOfArenasReachASteadyStateAndNeverSeeEachOthersBytes(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            long[] sizes = {0, 8, 64, 1000, 5000, 20_000, 300_000};
            long mapsAfterWarmUp = -1;
            long mappedAfterWarmUp = -1;
            for (int round = 0; round < 5_000; round++) {
                try (MemArena arena = kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena()) {
                    int count = 1 + round % 40;
                    for (int i = 0; i < count; i++) {
                        long size = sizes[(round + i) % sizes.length];
                        MemorySegment segment = arena.allocate(size, 1L << ((round + i) % 7));
                        assertThat(Contents.firstMismatch(segment, 0)).as("round %d, %d bytes", round, size)
                                .isEqualTo(-1);
                        Contents.fill(segment, 0xA5);
                    }
                    MemorySegment uninitialized = arena.allocateUninitialized(128, 8);
                    Contents.fill(uninitialized, 0x5A);
                }
                if (round == 500) {
                    mapsAfterWarmUp = alloc.stats().mapCount();
                    mappedAfterWarmUp = alloc.stats().mappedBytes();
                }
            }
            assertThat(alloc.stats().mapCount()).isEqualTo(mapsAfterWarmUp);
            assertThat(alloc.stats().mappedBytes()).isEqualTo(mappedAfterWarmUp);
            alloc.verifyHeap();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aRequestBiggerThanAFirstChunkGetsABlockOfItsOwnAndSmallOnesGoOnInTheChunk(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build();
             MemArena arena = kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena()) {
            MemorySegment first = arena.allocate(64, 16);
            int chunks = arena.chunkCount();

            MemorySegment big = arena.allocateUninitialized(64 * 1024, 16);
            MemorySegment next = arena.allocate(64, 16);

            assertThat(arena.chunkCount()).isEqualTo(chunks + 1);
            assertThat(next.address()).isEqualTo(first.address() + 64);
            assertThat(big.address() >= first.address() + 16 * 1024 || big.address() + big.byteSize() <= first.address())
                    .as("the big block lies outside the first chunk").isTrue();
            assertThat(arena.allocatedBytes()).isGreaterThanOrEqualTo(64 * 1024 + 128);
        }
    }

    @Test
    void anOpenArenasChunksCountInTheAllocatorsStats() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemArena arena = alloc.newSharedArena();
            arena.allocate(100_000, 8);
            arena.allocate(64, 8);
            long withArena = alloc.stats().allocatedBytes();
            assertThat(withArena).isGreaterThanOrEqualTo(100_064);
            assertThat(arena.chunkCount()).isEqualTo(2);
            assertThat(arena.allocatedBytes()).isGreaterThanOrEqualTo(100_064);

            arena.close();
            alloc.trim();

            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aClosedArenaLeavesNothingAllocatedAndItsFirstChunkCountedApartAsPooled(String kind) {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            MemArena arena = kind.equals("confined") ? alloc.newConfinedArena() : alloc.newSharedArena();
            arena.allocate(64);
            AllocatorStats open = alloc.stats();
            assertThat(open.allocatedBytes()).as("an open arena's chunk counts whole").isEqualTo(16 * 1024);
            assertThat(open.liveAllocations()).isEqualTo(1);
            assertThat(open.arenaPoolBytes()).isZero();

            arena.close();
            AllocatorStats closed = alloc.stats();
            assertThat(closed.allocatedBytes()).isZero();
            assertThat(closed.liveAllocations()).isZero();
            assertThat(closed.arenaPoolBytes()).isEqualTo(16 * 1024);
            assertThat(closed.arenaPoolChunks()).isEqualTo(1);
            assertThat(closed.mappedBytes()).isPositive();

            alloc.trim();
            assertThat(alloc.stats().arenaPoolBytes()).isZero();
            assertThat(alloc.stats().mappedBytes()).isZero();
        }
    }

    @Test
    void anAutomaticArenaStartsWithASmallChunkAndDoublesIt() {
        // Not closed: an automatic arena counts as open until it is collected, and the allocator then refuses to close.
        MemAlloc alloc = MemAlloc.builder().build();
        MemArena arena = alloc.newAutoArena();
        try {
            MemorySegment first = arena.allocate(64);
            assertThat(arena.chunkCount()).isEqualTo(1);
            assertThat(alloc.stats().allocatedBytes()).as("a chunk counts whole").isEqualTo(256);
            assertThat(alloc.stats().arenaPoolChunks()).as("not the pool's").isZero();
            arena.allocate(300); // does not fit what is left: a chunk of 512
            assertThat(arena.chunkCount()).isEqualTo(2);
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(256 + 512);
            arena.allocate(3000); // more than twice the last: a chunk of what it needs, and the byte a slice adds
            assertThat(alloc.stats().allocatedBytes()).isEqualTo(256 + 512 + 3001);
            assertThat(first.get(ValueLayout.JAVA_LONG, 56)).isZero();
        } finally {
            Reference.reachabilityFence(arena); // its chunks are counted only while it is reachable
        }
    }

    @Test
    void anAutomaticArenasMemoryGoesBackOnceItIsUnreachable() {
        MemAlloc alloc = MemAlloc.builder().build();
        openAndDropAutoArena(alloc);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (alloc.stats().allocatedBytes() != 0 && System.nanoTime() < deadline) {
            System.gc();
        }
        assertThat(alloc.stats().allocatedBytes()).as("the automatic arena was collected and gave its memory back")
                .isZero();
        alloc.verifyHeap();
        // The cleaner gives the chunk back, then stops counting the arena as open: close() is refused for as long.
        boolean closed = false;
        while (!closed && System.nanoTime() < deadline) {
            try {
                alloc.close();
                closed = true;
            } catch (IllegalStateException stillOpen) {
                assertThat(stillOpen).hasMessageContaining("1 arenas drawing on this MemAlloc are still open");
                Thread.onSpinWait();
            }
        }
        assertThat(closed).as("no longer counted as open").isTrue();
        assertThat(alloc.stats().mappedBytes()).isZero();
    }

    private static void openAndDropAutoArena(MemAlloc alloc) {
        MemArena arena = alloc.newAutoArena();
        MemorySegment segment = arena.allocate(1000, 8);
        Contents.fill(segment, 1);
        assertThat(alloc.stats().allocatedBytes()).isPositive();
    }
}
