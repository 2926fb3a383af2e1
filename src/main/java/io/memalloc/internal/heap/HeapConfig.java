package io.memalloc.internal.heap;

import java.util.Objects;

/**
 * How a {@link Heap} is shaped. The public builder checks user input and gives clear messages; this record only
 * guards against a bug above it.
 *
 * @param name           what events and the management bean call the heap: {@code global}, or a private
 *                       allocator's name
 * @param regionSize     bytes per region: a power of two, {@link #MIN_REGION_SIZE} to {@link #MAX_REGION_SIZE};
 *                       requests above half of it or above 1 MiB, whichever is less (their block with its alignment
 *                       padding: see {@link Heap}), get a mapping of their own
 * @param stripes        number of stripes (locks): a power of two, 1 to {@link #MAX_STRIPES}
 * @param maxMappedBytes the most the heap may have mapped at once, regions and large blocks together
 * @param cachedRegions  how many empty regions the heap keeps mapped for reuse
 * @param spareMappings  how many freed large mappings the heap keeps for reuse ({@link SpareMappings})
 * @param hardened       whether blocks carry canaries and freed ones are poisoned and quarantined
 *                       ({@link Hardening}, {@link Quarantine}); such a heap has no thread caches and no spares, which
 *                       would hand blocks out past those checks
 * @param guardPages     whether each large block's mapping ends in a page that faults when touched
 */
public record HeapConfig(String name, long regionSize, int stripes, long maxMappedBytes, int cachedRegions,
                         int spareMappings, boolean hardened, boolean guardPages) {
    public static final long MIN_REGION_SIZE = 64 * 1024;
    public static final long MAX_REGION_SIZE = 256L * 1024 * 1024;
    public static final long DEFAULT_REGION_SIZE = 4L * 1024 * 1024;
    public static final int MAX_STRIPES = 1024;

    public HeapConfig {
        Objects.requireNonNull(name, "name");
        if (!isRegionSize(regionSize)) {
            throw new IllegalArgumentException("regionSize " + regionSize + " is not a power of two from "
                    + MIN_REGION_SIZE + " to " + MAX_REGION_SIZE);
        }
        if (!isStripeCount(stripes)) {
            throw new IllegalArgumentException("stripes " + stripes + " is not a power of two from 1 to "
                    + MAX_STRIPES);
        }
        if (maxMappedBytes <= 0) {
            throw new IllegalArgumentException("maxMappedBytes " + maxMappedBytes + " is not positive");
        }
        if (cachedRegions < 0) {
            throw new IllegalArgumentException("cachedRegions " + cachedRegions + " is negative");
        }
        if (spareMappings < 0) {
            throw new IllegalArgumentException("spareMappings " + spareMappings + " is negative");
        }
        if (hardened && spareMappings > 0) {
            throw new IllegalArgumentException("a hardened heap has no spare mappings");
        }
    }

    /**
     * Whether a heap can have regions of {@code regionSize} bytes: a power of two from {@link #MIN_REGION_SIZE} to
     * {@link #MAX_REGION_SIZE}. The one statement of the rule: the builder and the system properties say it in their
     * own words.
     */
    public static boolean isRegionSize(long regionSize) {
        return Long.bitCount(regionSize) == 1 && regionSize >= MIN_REGION_SIZE && regionSize <= MAX_REGION_SIZE;
    }

    /** Whether a heap can have {@code stripes} stripes: a power of two from 1 to {@link #MAX_STRIPES}. */
    public static boolean isStripeCount(long stripes) {
        return Long.bitCount(stripes) == 1 && stripes <= MAX_STRIPES;
    }

    /** Two stripes per processor, rounded up to a power of two: enough that threads rarely wait for one another. */
    public static int defaultStripes() {
        int wanted = Math.min(MAX_STRIPES, 2 * Runtime.getRuntime().availableProcessors());
        return Integer.highestOneBit(wanted - 1) << 1;
    }

    /**
     * The shape of the process-wide heap: 4 MiB regions, {@link #defaultStripes()}, no cap, two cached empty
     * regions, four spare large mappings.
     */
    public static HeapConfig global() {
        return new HeapConfig("global", DEFAULT_REGION_SIZE, defaultStripes(), Long.MAX_VALUE, 2, 4, false, false);
    }
}
