package io.memalloc;

import io.memalloc.internal.heap.HeapConfig;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.LongPredicate;

/**
 * The {@code memalloc.*} system properties that shape {@link MemAlloc#global()}, read once when it is made. A bad
 * value is an {@link IllegalArgumentException} that names the property, its value and what it may be.
 *
 * <pre>
 *  property                  value                                        default
 *  memalloc.regionSize       a power of two, 64k to 256m                  4m
 *  memalloc.stripes          a power of two, 1 to 1024                    2 x processors, rounded up
 *  memalloc.maxMappedBytes   a size &gt; 0                                   unlimited
 *  memalloc.cachedRegions    a count &gt;= 0                                 2
 *  memalloc.spareMappings    a count &gt;= 0                                 4
 *  memalloc.threadCaches     true or false                                true (false when hardened)
 *  memalloc.hardened         true or false: canaries, poison, quarantine  false
 *  memalloc.managementBean   true or false                                true
 *  memalloc.leakSites        true or false: record where arenas are made  false
 *  memalloc.guardPages       true or false: a guard after large blocks    false
 * </pre>
 *
 * <p>A size is a count of bytes, with an optional suffix k, m, g or t (powers of 1024; {@code KiB}, {@code MB}
 * and the like are read the same).
 *
 * @param heapConfig     the heap's shape
 * @param managementBean whether to register {@code io.memalloc:type=MemAlloc,name=global}
 * @param leakSites      whether to record where arenas are created, for the report of one never closed
 */
record GlobalProperties(HeapConfig heapConfig, boolean managementBean, boolean leakSites) {
    static final String PREFIX = "memalloc.";

    /** Reads the properties through {@code lookup} (the system properties, or a test's map). */
    static GlobalProperties read(Function<String, String> lookup) {
        HeapConfig defaults = HeapConfig.global();
        long regionSize = size(lookup, "regionSize", defaults.regionSize(),
                v -> Long.bitCount(v) == 1 && v >= HeapConfig.MIN_REGION_SIZE && v <= HeapConfig.MAX_REGION_SIZE,
                "a power of two from 64k to 256m");
        int stripes = (int) count(lookup, "stripes", defaults.stripes(),
                v -> Long.bitCount(v) == 1 && v <= HeapConfig.MAX_STRIPES, "a power of two from 1 to 1024");
        long maxMappedBytes = size(lookup, "maxMappedBytes", defaults.maxMappedBytes(), v -> v > 0,
                "a size above 0");
        int cachedRegions = (int) count(lookup, "cachedRegions", defaults.cachedRegions(),
                v -> v <= Integer.MAX_VALUE, "a count");
        int spareMappings = (int) count(lookup, "spareMappings", defaults.spareMappings(),
                v -> v <= Integer.MAX_VALUE, "a count");
        boolean hardened = bool(lookup, "hardened", false);
        // A hardened heap has neither: each would hand blocks out past its checks.
        boolean threadCaches = !hardened && bool(lookup, "threadCaches", defaults.threadCaches());
        if (hardened) {
            spareMappings = 0;
        }
        boolean managementBean = bool(lookup, "managementBean", true);
        boolean leakSites = bool(lookup, "leakSites", false);
        boolean guardPages = bool(lookup, "guardPages", false);
        return new GlobalProperties(new HeapConfig(defaults.name(), regionSize, stripes, maxMappedBytes,
                cachedRegions, threadCaches, spareMappings, hardened, guardPages), managementBean, leakSites);
    }

    private static long size(Function<String, String> lookup, String name, long otherwise, LongPredicate valid,
                             String what) {
        String value = lookup.apply(PREFIX + name);
        if (value == null) {
            return otherwise;
        }
        long size = parseSize(value.strip());
        if (size < 0 || !valid.test(size)) {
            throw bad(name, value, what);
        }
        return size;
    }

    private static long count(Function<String, String> lookup, String name, long otherwise, LongPredicate valid,
                              String what) {
        String value = lookup.apply(PREFIX + name);
        if (value == null) {
            return otherwise;
        }
        long count;
        try {
            count = Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            count = -1;
        }
        if (count < 0 || !valid.test(count)) {
            throw bad(name, value, what);
        }
        return count;
    }

    private static boolean bool(Function<String, String> lookup, String name, boolean otherwise) {
        String value = lookup.apply(PREFIX + name);
        if (value == null) {
            return otherwise;
        }
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw bad(name, value, "true or false");
        };
    }

    /**
     * Bytes in {@code text}: digits, then optionally k, m, g or t (powers of 1024), optionally followed by
     * {@code iB} or {@code B}, in any case; -1 when it is not one, or overflows.
     */
    static long parseSize(String text) {
        String t = text.toLowerCase(Locale.ROOT);
        if (t.endsWith("ib")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("b")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = t.isEmpty() ? 0 : switch (t.charAt(t.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        try {
            long value = Long.parseLong(digits);
            return value > Long.MAX_VALUE >> shift ? -1 : value << shift;
        } catch (NumberFormatException tooLong) {
            return -1;
        }
    }

    private static IllegalArgumentException bad(String name, String value, String what) {
        return new IllegalArgumentException("system property " + PREFIX + name + "=" + value + " is not " + what);
    }
}
