package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The page map: every address of a page finds it, no other address does, and a region the OS maps above the
 * addresses it covers is given back with a clear error. No native memory is touched: the pages here are of regions
 * at addresses chosen by the test, which nothing maps, and each test takes its pages out again.
 */
class PageMapTest {
    /** An address in a window of 4 GiB that the OS does not hand out in these tests' processes: near 2^48. */
    private static final long HIGH = PageMap.LIMIT - (8L << 30);

    @Test
    void everyAddressOfAPageFindsItAndTheNeighboursDoNot() {
        PageRegion region = new PageRegion(null, HIGH, 4 * Page.SIZE);
        Page page = region.carve(SizeClasses.of(64), null);
        try {
            assertThat(PageMap.find(page.base)).isSameAs(page);
            assertThat(PageMap.find(page.base + 1)).isSameAs(page);
            assertThat(PageMap.find(page.base + Page.SIZE - 1)).isSameAs(page);
            assertThat(PageMap.find(page.base - 1)).isNull();
            assertThat(PageMap.find(page.base + Page.SIZE)).isNull();
        } finally {
            region.removePages();
        }
        assertThat(PageMap.find(page.base)).isNull();
    }

    @Test
    void aPageGivenBackIsNoLongerFoundAndItsSlotServesTheNextPage() {
        PageRegion region = new PageRegion(null, HIGH, Page.SIZE);
        Page first = region.carve(SizeClasses.of(16), null);
        region.release(first);
        assertThat(PageMap.find(first.base)).isNull();
        Page second = region.carve(SizeClasses.of(1024), null);
        try {
            assertThat(PageMap.find(first.base)).isSameAs(second);
        } finally {
            region.removePages();
        }
    }

    @Test
    void addressesAboveTheLimitAndNegativeOnesFindNothing() {
        assertThat(PageMap.find(PageMap.LIMIT)).isNull();
        assertThat(PageMap.find(Long.MAX_VALUE)).isNull();
        assertThat(PageMap.find(-1L)).isNull();
        assertThat(PageMap.find(Long.MIN_VALUE)).isNull();
        assertThat(PageMap.find(0)).isNull();
    }

    @Test
    void coversWhatEndsAtTheLimitAndNothingPastIt() {
        assertThat(PageMap.covers(PageMap.LIMIT - Page.SIZE, Page.SIZE)).isTrue();
        assertThat(PageMap.covers(PageMap.LIMIT - Page.SIZE + 1, Page.SIZE)).isFalse();
        assertThat(PageMap.covers(PageMap.LIMIT, 0)).isTrue();
        assertThat(PageMap.covers(Long.MAX_VALUE - 10, 4 << 20)).isFalse();
        assertThat(PageMap.covers(-Page.SIZE, Page.SIZE)).isFalse();
    }

    @Test
    void aRegionMappedAboveTheLimitIsGivenBackAndTheTakeFailsWithOutOfMemoryError() {
        List<long[]> unmapped = new ArrayList<>();
        long regionSize = 4 << 20;
        PageRegions regions = new PageRegions(regionSize, new EmptyRegions(1), new PageRegions.Mapper() {
            @Override
            public long map(long byteSize, long request) {
                return PageMap.LIMIT; // nothing is there: the take must not touch it
            }

            @Override
            public void unmap(long base, long byteSize) {
                unmapped.add(new long[] {base, byteSize});
            }
        });
        assertThatThrownBy(() -> regions.take(SizeClasses.of(64), null, 64))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("0x" + Long.toHexString(PageMap.LIMIT))
                .hasMessageContaining("48-bit");
        assertThat(unmapped).containsExactly(new long[] {PageMap.LIMIT, regionSize});
        assertThat(regions.count()).isZero();
        assertThat(PageMap.find(PageMap.LIMIT)).isNull();
    }
}
