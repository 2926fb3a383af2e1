package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReferenceArray;

/** Fills segments with a byte pattern and finds where a pattern is broken, for content checks in tests. */
final class Contents {
    /** The most bytes {@link #exactMismatch} compares: past half of the 64 KiB regions the property tests use. */
    static final long EXACT_LIMIT = 96 * 1024;
    /** For each byte value, a segment of {@link #EXACT_LIMIT} bytes of it, made on first use (any thread). */
    private static final AtomicReferenceArray<MemorySegment> REFERENCES = new AtomicReferenceArray<>(256);

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

    /**
     * The first offset below {@code length} where {@code segment} does not hold {@code value}, or -1, comparing
     * every byte (with {@link MemorySegment#mismatch}, against a segment that holds only {@code value}).
     */
    static long exactMismatch(MemorySegment segment, int value, long length) {
        if (length > EXACT_LIMIT) {
            throw new IllegalArgumentException(length + " bytes: more than exactMismatch compares, " + EXACT_LIMIT);
        }
        MemorySegment reference = REFERENCES.get(value & 0xFF);
        if (reference == null) {
            MemorySegment made = Arena.ofAuto().allocate(EXACT_LIMIT);
            made.fill((byte) value);
            REFERENCES.compareAndSet(value & 0xFF, null, made);
            reference = REFERENCES.get(value & 0xFF);
        }
        return MemorySegment.mismatch(segment, 0, length, reference, 0, length);
    }
}
