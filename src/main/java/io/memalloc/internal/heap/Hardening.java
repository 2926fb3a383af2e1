package io.memalloc.internal.heap;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.security.SecureRandom;

/**
 * What a hardened heap writes into its blocks, and checks: a canary after what was asked for, check bits in each
 * in-use header, poison over what was freed; and the checks a header passes before any value of it is used.
 *
 * <pre>
 *  in use:    | header | payload: byteSize bytes        | canary (8) | slack |
 *               bits 55..38: check = hash(key, block address, the header's other bits but PREV_IN_USE)
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
 *
 * <p>Headers lie in memory a user can write: a write that runs past a block's end goes on over the next block's
 * header. So no value of a header is used, as a size or to find an address, before it is checked against what the
 * heap knows out of band (the region's bounds and live bits, see {@link Region}) and against the check bits:
 * <ul>
 * <li>an in-use block ({@link #checkInUse}) is marked in use, ends before the next live block starts, has room for
 *     its canary, and its check bits match;
 * <li>a free block ({@link #checkFree}) ends exactly where the next live block (or the epilogue) starts, since free
 *     blocks are always merged, is not marked live, and its footer repeats its size;
 * <li>the neighbours a free merges with are found from the live bits and checked headers ({@link #freeBlockBefore},
 *     {@link #freeSizeAt}), never from the PREV_IN_USE flag or a footer alone.
 * </ul>
 * A check that fails throws {@link DamagedBlockException} before anything is written. The check bits are 18: a
 * random overwrite passes them once in 2^18, and a size it changes must still fit the live bits and the canary.
 */
final class Hardening {
    /** Bytes a hardened heap adds after every block's request, for the canary. */
    static final long CANARY_BYTES = 8;
    static final byte POISON = (byte) 0xDF;

    private static final MemorySegment MEMORY = AddressSpace.all();
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private final long secret = new SecureRandom().nextLong();
    /** The key of the check bits: not the canary's secret itself, so that one does not give the other. */
    private final long headerKey = Long.rotateLeft(secret, 43) ^ 0xC2B2AE3D27D4EB4FL;

    /** The key free lists XOR their links with: not the canary's secret itself, so that one does not give the other. */
    long linkKey() {
        return Long.rotateLeft(secret, 29) * 0x9E3779B97F4A7C15L | 1;
    }

    /** Writes the check bits of the in-use block at {@code block}, whose header is written otherwise. */
    void seal(long block) {
        long header = Block.header(block);
        Block.setHeader(block, (header & ~Block.CHECK_MASK) | checkBits(block, header));
    }

    /** The check bits a sealed header at {@code block} holds: a keyed hash of its address and sealed bits. */
    private long checkBits(long block, long header) {
        long h = (header & Block.SEALED) ^ block ^ headerKey;
        h = (h ^ (h >>> 33)) * 0xFF51AFD7ED558CCDL; // MurmurHash3's finalizer: every input bit moves every output bit
        h = (h ^ (h >>> 33)) * 0xC4CEB9FE1A85EC53L;
        h ^= h >>> 33;
        return h & Block.CHECK_MASK;
    }

    /**
     * Checks the header of the block whose payload is {@code payload}, which {@code region} marks live.
     *
     * @return the header word checked, read once: its size, alignment and size asked for are to be taken from it,
     *         not read again (a user's write may come between two reads)
     * @throws DamagedBlockException when the header was written over
     */
    long checkInUse(Region region, long payload) {
        long block = Block.ofPayload(payload);
        long header = Block.header(block);
        long size = Block.sizeOfHeader(header);
        long limit = region.nextLivePayload(payload) - Block.HEADER; // where the next block in use starts, at most
        String wrong = (header & Block.IN_USE) == 0 ? "it says the block is free"
                : size < Block.MIN_SIZE || size > limit - block ? "its size, " + size + ", does not fit the region"
                : Block.slackOfHeader(header) < CANARY_BYTES || Block.slackOfHeader(header) > size - Block.HEADER
                        ? "its slack leaves no room for the canary, or is larger than the block"
                : (header & Block.CHECK_MASK) != checkBits(block, header) ? "its check bits do not match"
                : null;
        if (wrong != null) {
            throw new DamagedBlockException(block, String.format("the header of the block at 0x%x (payload 0x%x) is"
                    + " damaged: %s (header 0x%016x; a write past the end of the block before it?)", block, payload,
                    wrong, header));
        }
        return header;
    }

    /**
     * Checks the free block at {@code block} of {@code region} (a list or a neighbour named it).
     *
     * @return its size, read once (see {@link #checkInUse})
     * @throws DamagedBlockException when its header or footer was written over
     */
    static long checkFree(Region region, long block) {
        long payload = Block.payload(block);
        long header = Block.header(block);
        long size = Block.sizeOfHeader(header);
        long end = region.nextLivePayload(payload) - Block.HEADER;
        String wrong = (header & Block.IN_USE) != 0 ? "it says the block is in use"
                : region.isLive(payload) ? "the region has the block in use"
                : size != end - block ? "its size, " + size + ", is not the " + (end - block) + " bytes up to the next"
                        + " block in use"
                : Block.footer(block, size) != size ? "its footer does not repeat its size"
                : null;
        if (wrong != null) {
            throw new DamagedBlockException(block, String.format("the free block at 0x%x is damaged: %s (header"
                    + " 0x%016x; a write past the end of the block before it, or after a free?)", block, wrong, header));
        }
        return size;
    }

    /**
     * The size of the block at {@code next}, just after a checked in-use block, when it is free, else 0: whether it
     * is comes from the live bits, and a free one is checked.
     *
     * @throws DamagedBlockException when it is free and damaged
     */
    static long freeSizeAt(Region region, long next) {
        if (next == region.epilogue() || region.isLive(Block.payload(next))) {
            return 0;
        }
        return checkFree(region, next);
    }

    /**
     * The free block just before the checked in-use block at {@code block}, found from the live bits and the
     * checked header of the block in use before it, never from a footer alone: 0 when the block before is in use.
     *
     * @throws DamagedBlockException when the blocks before do not tile up to {@code block}
     */
    long freeBlockBefore(Region region, long block) {
        long before = region.prevLivePayload(Block.payload(block));
        long gap = region.firstBlock();
        if (before != 0) {
            gap = Block.ofPayload(before) + Block.sizeOfHeader(checkInUse(region, before));
        }
        if (gap > block) {
            throw new DamagedBlockException(block, String.format("the block at 0x%x overlaps the block in use before"
                    + " it, whose header says it ends at 0x%x (which of the two is damaged is not known)", block, gap));
        }
        if (gap == block) {
            return 0;
        }
        checkFree(region, gap);
        return gap;
    }

    /** Writes the canary of the block at {@code payload} asked for {@code byteSize} bytes. */
    void writeCanary(long payload, long byteSize) {
        MEMORY.set(JAVA_LONG_UNALIGNED, payload + byteSize, secret ^ payload);
    }

    /**
     * Checks the canary of a block that is the caller's, whose size asked for is {@code byteSize} (known out of band,
     * or from a checked header).
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
