package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A region's live bits answer "the next live block after" and "the last one before" as a plain walk of every granule
 * would, across word and summary-word boundaries and as blocks come and go. They read no native memory, so the
 * region here maps nothing.
 */
class RegionLiveBitsTest {
    private static final long BASE = 1L << 40;

    @ParameterizedTest
    @ValueSource(longs = {64 * 1024, 1 << 20, 4 << 20})
    void nextAndPreviousLiveBlocksAgreeWithAWalkAsBlocksComeAndGo(long size) {
        Region region = new Region(BASE, size, null);
        TreeSet<Long> live = new TreeSet<>();
        SplittableRandom random = new SplittableRandom(size);
        long granules = (size - 2 * Block.HEADER) / Block.GRANULE;
        for (int step = 0; step < 5_000; step++) {
            // Mostly near one another, sometimes anywhere: runs of set bits and long empty stretches both occur.
            long granule = random.nextInt(4) == 0 ? random.nextLong(granules) : random.nextLong(Math.min(granules, 200));
            long payload = BASE + Block.GRANULE + granule * Block.GRANULE;
            if (live.remove(payload)) {
                region.clearLive(payload);
            } else {
                live.add(payload);
                region.markLive(payload);
            }
            long probe = BASE + Block.GRANULE + random.nextLong(granules) * Block.GRANULE;
            Long next = live.higher(probe);
            Long prev = live.lower(probe);
            assertThat(region.nextLivePayload(probe)).as("after 0x%x", probe)
                    .isEqualTo(next == null ? region.epilogue() + Block.HEADER : next);
            assertThat(region.prevLivePayload(probe)).as("before 0x%x", probe).isEqualTo(prev == null ? 0 : prev);
        }
    }

    @Test
    void theFirstAndLastGranulesAndEmptyWordsBetween() {
        long size = 4 << 20;
        Region region = new Region(BASE, size, null);
        long first = region.firstBlock() + Block.HEADER;
        long last = region.epilogue() - Block.MIN_SIZE + Block.HEADER;
        assertThat(region.nextLivePayload(first)).isEqualTo(region.epilogue() + Block.HEADER);
        assertThat(region.prevLivePayload(last)).isZero();
        region.markLive(first);
        region.markLive(last);
        assertThat(region.nextLivePayload(first)).isEqualTo(last); // 4 MiB of empty words, 64 summary words
        assertThat(region.prevLivePayload(last)).isEqualTo(first);
        assertThat(region.nextLivePayload(last)).isEqualTo(region.epilogue() + Block.HEADER);
        assertThat(region.prevLivePayload(first)).isZero();
        region.clearLive(last);
        assertThat(region.nextLivePayload(first)).isEqualTo(region.epilogue() + Block.HEADER);
    }
}
