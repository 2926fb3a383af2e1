package io.memalloc.internal.heap;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.security.SecureRandom;

/**
 * What a hardened heap writes into its blocks, and checks: a canary after what was asked for, and poison over what
 * was freed.
 *
 * <pre>
 *  in use:    | header | payload: byteSize bytes        | canary (8) | slack |
 *                                                        ^ payload + byteSize, unaligned
 *             canary = secret ^ payload: a write past the end changes it, and no two blocks share one
 *
 *  freed:     | header | DF DF DF ... DF DF DF DF DF DF DF DF | slack |      (held in the {@link Quarantine})
 *                      ^ payload, byteSize + 8 bytes of poison
 * </pre>
 *
 * <p>The canary is checked when the block is freed or reallocated, and by {@code verifyHeap()}: a damaged one is an
 * {@link IllegalStateException} naming the block, its size and the first byte written past its end. The poison
 * makes a read after free see {@code 0xDF...} instead of old data, and a write after free is found when the block
 * leaves the quarantine. The secret is drawn per heap from {@link SecureRandom}, so that a program cannot forge a
 * canary it has overwritten.
 */
final class Hardening {
    /** Bytes a hardened heap adds after every block's request, for the canary. */
    static final long CANARY_BYTES = 8;
    static final byte POISON = (byte) 0xDF;

    private static final MemorySegment MEMORY = AddressSpace.all();
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private final long secret = new SecureRandom().nextLong();

    /** The key free lists XOR their links with: not the canary's secret itself, so that one does not give the other. */
    long linkKey() {
        return Long.rotateLeft(secret, 29) * 0x9E3779B97F4A7C15L | 1;
    }

    /** Writes the canary of the block at {@code payload} asked for {@code byteSize} bytes. */
    void writeCanary(long payload, long byteSize) {
        MEMORY.set(JAVA_LONG_UNALIGNED, payload + byteSize, secret ^ payload);
    }

    /**
     * Checks the canary of a block that is the caller's.
     *
     * @throws IllegalStateException when it was written over, naming the block, its size and where the damage starts
     */
    void checkCanary(long payload, long byteSize) {
        long expected = secret ^ payload;
        long found = MEMORY.get(JAVA_LONG_UNALIGNED, payload + byteSize);
        if (found != expected) {
            long diff = found ^ expected;
            int firstByte = (LITTLE_ENDIAN ? Long.numberOfTrailingZeros(diff) : Long.numberOfLeadingZeros(diff)) / 8;
            long damaged = payload + byteSize + firstByte;
            throw new IllegalStateException(String.format("the block at 0x%x of %d bytes was written past its end:"
                    + " its canary is damaged from 0x%x on, byte %d after the end (a heap buffer overflow)",
                    payload, byteSize, damaged, firstByte));
        }
    }

    /** Fills a freed block's request and canary with {@link #POISON}. */
    static void poison(long payload, long byteSize) {
        MEMORY.asSlice(payload, byteSize + CANARY_BYTES).fill(POISON);
    }

    /** Eight bytes of {@link #POISON}, to check a word at a time. */
    private static final long POISON_WORD = 0xDFDF_DFDF_DFDF_DFDFL;

    /** Where the poison of a freed block was written over, or -1 when it is whole. */
    static long firstDamage(long payload, long byteSize) {
        long end = payload + byteSize + CANARY_BYTES;
        long at = payload;
        for (; at + 8 <= end; at += 8) { // a word at a time: a 16 KiB arena chunk is 2,048 loads, not 16,384
            if (MEMORY.get(JAVA_LONG_UNALIGNED, at) != POISON_WORD) {
                break;
            }
        }
        for (; at < end; at++) {
            if (MEMORY.get(JAVA_BYTE, at) != POISON) {
                return at;
            }
        }
        return -1;
    }
}
