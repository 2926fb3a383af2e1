package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Long random sequences of allocate, free and reallocate against a model of the live blocks: each block holds its
 * own byte, checked before it is freed or moved; new memory must read as zero; the heap is verified along the way.
 */
class RandomizedTest {
    private static final int OPERATIONS = 12_000;
    private static final long MAX_SIZE = 3L << 20;

    /** A live block and the byte it is filled with. */
    private record Live(MemorySegment segment, int value) {}

    @ParameterizedTest
    @CsvSource({"1, false", "2, false", "3, false", "1, true", "2, true"})
    void randomOperationsKeepEveryBlockIntact(long seed, boolean hardened) {
        Random random = new Random(seed);
        try (MemAlloc alloc = MemAlloc.builder().stripes(2).regionSize(256 * 1024).cachedRegions(1)
                .hardened(hardened).build()) {
            List<Live> live = new ArrayList<>();
            for (int op = 0; op < OPERATIONS; op++) {
                int choice = random.nextInt(10);
                if (live.isEmpty() || choice < 4) {
                    live.add(allocate(alloc, random));
                } else if (choice < 8) {
                    Live victim = live.remove(random.nextInt(live.size()));
                    assertIntact(victim);
                    alloc.free(victim.segment());
                } else {
                    int index = random.nextInt(live.size());
                    live.set(index, reallocate(alloc, live.get(index), random));
                }
                if (op % 1000 == 999) {
                    alloc.verifyHeap();
                    assertThat(alloc.stats().liveAllocations()).isEqualTo(live.size());
                    assertThat(alloc.stats().allocatedBytes())
                            .isEqualTo(live.stream().mapToLong(l -> l.segment().byteSize()).sum());
                }
            }
            RegressionTest.assertNoOverlap(live.stream().map(Live::segment).toList());
            for (Live block : live) {
                assertIntact(block);
                alloc.free(block.segment());
            }
            alloc.verifyHeap();
            if (hardened) {
                alloc.trim(); // the quarantine holds the last blocks freed, and their regions, until then
            }
            AllocatorStats stats = alloc.stats();
            assertThat(stats.allocatedBytes()).isZero();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.largeBlockCount()).isZero();
            // The one cached empty region, and the region of the one empty page the thread keeps for its next
            // small allocation.
            assertThat(stats.emptyRegionCount()).isEqualTo(stats.regionCount()).isLessThanOrEqualTo(2);
            alloc.trim();
            assertThat(alloc.stats().regionCount()).isZero();
        }
    }

    private static Live allocate(MemAlloc alloc, Random random) {
        long size = logUniformSize(random);
        long alignment = random.nextInt(4) == 0 ? 1L << random.nextInt(13) : 16;
        boolean zeroed = random.nextBoolean();
        MemorySegment segment = zeroed ? alloc.allocate(size, alignment) : alloc.allocateUninitialized(size, alignment);
        assertThat(segment.address() % alignment).isZero();
        assertThat(segment.byteSize()).isEqualTo(size);
        if (zeroed) {
            assertThat(Contents.firstMismatch(segment, 0)).as("fresh block of %d bytes", size).isEqualTo(-1);
        }
        int value = 1 + random.nextInt(255);
        Contents.fill(segment, value);
        return new Live(segment, value);
    }

    private static Live reallocate(MemAlloc alloc, Live block, Random random) {
        assertIntact(block);
        long oldSize = block.segment().byteSize();
        long newSize = logUniformSize(random);
        long alignment = Long.lowestOneBit(block.segment().address());
        MemorySegment resized = alloc.reallocate(block.segment(), newSize);
        assertThat(resized.byteSize()).isEqualTo(newSize);
        assertThat(Long.lowestOneBit(resized.address())).isGreaterThanOrEqualTo(Math.min(alignment, 16));
        long kept = Math.min(oldSize, newSize);
        assertThat(Contents.firstMismatch(resized, kept, block.value())).isEqualTo(-1);
        if (newSize > oldSize) {
            assertThat(Contents.firstMismatch(resized.asSlice(oldSize), 0)).as("growth").isEqualTo(-1);
        }
        Contents.fill(resized, block.value());
        return new Live(resized, block.value());
    }

    private static void assertIntact(Live block) {
        assertThat(Contents.firstMismatch(block.segment(), block.value()))
                .as("block at 0x%x", block.segment().address()).isEqualTo(-1);
    }

    /** Sizes from 0 to MAX_SIZE, log-uniform: as many below 64 B as between 64 KiB and 4 MiB. */
    private static long logUniformSize(Random random) {
        return (long) Math.exp(random.nextDouble() * Math.log(MAX_SIZE + 1)) - 1;
    }
}
