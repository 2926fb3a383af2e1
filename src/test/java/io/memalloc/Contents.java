package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;

/** Fills segments with a byte pattern and finds where a pattern is broken, for content checks in tests. */
final class Contents {
    private Contents() {}

    /** Fills {@code segment} with {@code value}. */
    static void fill(MemorySegment segment, int value) {
        segment.fill((byte) value);
    }

    /**
     * The first offset below {@code length} where {@code segment} does not hold {@code value}, or -1. Checks every
     * byte of the first and last 4 KiB and every 61st byte in between, so that multi-MiB blocks stay cheap to check.
     */
    static long firstMismatch(MemorySegment segment, long length, int value) {
        byte expected = (byte) value;
        for (long i = 0; i < length; i += (i < 4096 || i >= length - 4096) ? 1 : 61) {
            if (segment.get(JAVA_BYTE, i) != expected) {
                return i;
            }
        }
        return -1;
    }

    static long firstMismatch(MemorySegment segment, int value) {
        return firstMismatch(segment, segment.byteSize(), value);
    }
}
