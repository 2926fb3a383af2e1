package io.memalloc;

import io.memalloc.internal.heap.HeapConfig;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
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
 *  memalloc.hardened         true or false: canaries, poison, quarantine  false
 *  memalloc.managementBean   true or false                                true
 *  memalloc.leakSites        true or false: record where arenas are made  false
 *  memalloc.guardPages       true or false: a guard after large blocks    false
 * </pre>
 *
 * <p>A size is a count of bytes, with an optional suffix k, m, g or t (powers of 1024; {@code KiB}, {@code MB}
 * and the like are read the same).
 *
 * <p>A property that starts with {@code memalloc.} and is none of these (a typo, such as {@code memalloc.regionsize})
 * would change nothing without a word: {@link #unknown} names it, with the nearest real one, for a warning.
 *
 * @param heapConfig     the heap's shape
 * @param managementBean whether to register {@code io.memalloc:type=MemAlloc,name=global}
 * @param leakSites      whether to record where arenas are created, for the report of one never closed
 */
record GlobalProperties(HeapConfig heapConfig, boolean managementBean, boolean leakSites) {
    static final String PREFIX = "memalloc.";
    /** Every property read here, without the prefix. */
    static final List<String> NAMES = List.of("regionSize", "stripes", "maxMappedBytes", "cachedRegions",
            "spareMappings", "hardened", "managementBean", "leakSites", "guardPages");
    private static final String COUNT = "a whole number from 0 to " + Integer.MAX_VALUE;

    /** Reads the properties through {@code lookup} (the system properties, or a test's map). */
    static GlobalProperties read(Function<String, String> lookup) {
        HeapConfig defaults = HeapConfig.global();
        long regionSize = size(lookup, "regionSize", defaults.regionSize(), HeapConfig::isRegionSize,
                "a power of two from 64k to 256m");
        int stripes = (int) count(lookup, "stripes", defaults.stripes(), HeapConfig::isStripeCount,
                "a power of two from 1 to 1024");
        long maxMappedBytes = size(lookup, "maxMappedBytes", defaults.maxMappedBytes(), v -> v > 0,
                "a size above 0, such as 512m");
        int cachedRegions = (int) count(lookup, "cachedRegions", defaults.cachedRegions(),
                v -> v <= Integer.MAX_VALUE, COUNT);
        int spareMappings = (int) count(lookup, "spareMappings", defaults.spareMappings(),
                v -> v <= Integer.MAX_VALUE, COUNT);
        boolean hardened = bool(lookup, "hardened", false);
        // A hardened heap has none: a spare would hand blocks out past its checks.
        if (hardened) {
            spareMappings = 0;
        }
        boolean managementBean = bool(lookup, "managementBean", true);
        boolean leakSites = bool(lookup, "leakSites", false);
        boolean guardPages = bool(lookup, "guardPages", false);
        return new GlobalProperties(new HeapConfig(defaults.name(), regionSize, stripes, maxMappedBytes,
                cachedRegions, spareMappings, hardened, guardPages), managementBean, leakSites);
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
        return new IllegalArgumentException("system property " + PREFIX + name + "=" + value + " is refused: it must"
                + " be " + what);
    }

    /**
     * {@return a warning for each of {@code propertyNames} that starts with {@code memalloc.} but is none of
     * {@link #NAMES}, naming the nearest of them} Sorted, so that the warnings come in the same order every run.
     */
    static List<String> unknown(Collection<String> propertyNames) {
        List<String> warnings = new ArrayList<>();
        for (String property : new TreeSet<>(propertyNames)) {
            if (!property.startsWith(PREFIX) || NAMES.contains(property.substring(PREFIX.length()))) {
                continue;
            }
            String nearest = nearest(property.substring(PREFIX.length()));
            warnings.add("system property " + property + " is not a MemAlloc setting, and changes nothing; did you"
                    + " mean " + PREFIX + nearest + "? The settings are " + PREFIX + String.join(", " + PREFIX, NAMES)
                    + " (see the Javadoc of MemAlloc.global())");
        }
        return warnings;
    }

    /** The name in {@link #NAMES} fewest edits away from {@code name}, letter case aside. */
    private static String nearest(String name) {
        String best = NAMES.getFirst();
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : NAMES) {
            int distance = editDistance(name.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
            if (distance < bestDistance) {
                best = candidate;
                bestDistance = distance;
            }
        }
        return best;
    }

    /** Levenshtein's distance: the fewest insertions, deletions and substitutions that turn {@code a} into {@code b}. */
    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
