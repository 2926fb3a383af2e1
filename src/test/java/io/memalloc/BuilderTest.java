package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The builder checks every setting when it is given, with a message that names it. */
class BuilderTest {

    @ParameterizedTest
    @ValueSource(longs = {0, -1, 3, 32 * 1024, 100_000, 512L << 20, Long.MIN_VALUE})
    void aRegionSizeThatIsNoPowerOfTwoFrom64KiBTo256MiBIsIllegal(long size) {
        assertThatThrownBy(() -> MemAlloc.builder().regionSize(size))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("regionSize " + size);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -2, 3, 2048, Integer.MIN_VALUE})
    void aStripeCountThatIsNoPowerOfTwoFrom1To1024IsIllegal(int stripes) {
        assertThatThrownBy(() -> MemAlloc.builder().stripes(stripes))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stripes " + stripes);
    }

    @Test
    void maxMappedBytesMustBePositiveAndCachedRegionsNotNegative() {
        assertThatThrownBy(() -> MemAlloc.builder().maxMappedBytes(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxMappedBytes 0");
        assertThatThrownBy(() -> MemAlloc.builder().cachedRegions(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cachedRegions -1");
    }

    @Test
    void theExtremesThatAreAllowedWork() {
        for (long regionSize : new long[] {64 * 1024, 256L << 20}) {
            try (MemAlloc alloc = MemAlloc.builder().regionSize(regionSize).stripes(1024).cachedRegions(0).build()) {
                alloc.free(alloc.allocate(regionSize / 4, 16));
                alloc.verifyHeap();
                assertThat(alloc.stats().mappedBytes()).isZero();
            }
        }
    }
}
