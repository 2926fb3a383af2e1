package io.memalloc.internal.heap;

import java.util.Locale;

/** Byte counts for people: 64 B, 4.0 KiB, 1.5 MiB. */
final class Sizes {
    private Sizes() {}

    /** Exact bytes, and rounded beside them when that reads easier: {@code 4198400 bytes (4.0 MiB)}. */
    static String exact(long bytes) {
        return bytes < 1024 ? bytes + " bytes" : bytes + " bytes (" + format(bytes) + ")";
    }

    static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
