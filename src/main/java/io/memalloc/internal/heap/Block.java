package io.memalloc.internal.heap;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The layout of a block: a header word, then the payload; a free block also keeps its free-list links and a footer.
 *
 * <pre>
 *  in use:                             free:
 *  +--------+---------------------+    +--------+--------+--------+---------------+--------+
 *  | header | payload ...         |    | header |  next  |  prev  |  (unused)     | footer |
 *  +--------+---------------------+    +--------+--------+--------+---------------+--------+
 *  ^block   ^payload = block + 8       ^block   ^payload                          ^block + size - 8
 *
 *  header word:  bits 63..56  slack: payload bytes past the size asked for (in-use blocks; less than 256)
 *                bits 55..38  check bits of a hardened heap's in-use block ({@link Hardening#seal}); else 0
 *                bits 37..32  log2 of the alignment asked for (in-use blocks; reallocate keeps it)
 *                bits 31..4   size of the whole block in bytes, header included (a multiple of 16, below 2^32)
 *                bit  2       PURGED: the free block's pages were given back to the OS (Heap#purgeFreeBlock)
 *                bit  1       PREV_IN_USE: the block just before this one is in use, so it has no footer
 *                bit  0       IN_USE
 *
 *  The two halves have different owners while the block is in use: the low half (size and flags) is its stripe's,
 *  which flips PREV_IN_USE when the block before it is freed or taken, under the stripe's lock; the high half (what
 *  was asked for) is the block's owner's, which may be a thread cache handing the block out again without that
 *  lock ({@link #setByteSize}). Each writes only its own half, so neither undoes the other's write.
 * </pre>
 *
 * <p>Blocks start 8 bytes below a multiple of 16, so every payload is 16-byte aligned; block sizes are multiples of
 * 16, so the next block starts 8 below a multiple of 16 too. A free block's footer repeats its size: freeing the
 * block after it finds where it starts in O(1), and merges both ways in O(1) (boundary tags, Knuth 1973). An in-use
 * block has no footer: its payload runs to the next header, whose PREV_IN_USE bit says so. The links are absolute
 * addresses (0 for none), so unlinking is O(1) ({@link FreeList}).
 *
 * <p>The Rust original kept a back-pointer just before the payload, on top of its own header's flag; nothing is
 * written outside the header, links and footer here. All access goes through {@link AddressSpace#all()}, under
 * the owning {@link Stripe}'s lock, except a thread cache's handing out of a block it holds, which writes only the
 * header's high half (above).
 */
final class Block {
    static final long HEADER = 8;
    static final long GRANULE = 16;
    /** Header, two links and a footer: the least a free block needs. */
    static final long MIN_SIZE = 32;

    static final long IN_USE = 1;
    static final long PREV_IN_USE = 2;
    static final long PURGED = 4;
    private static final long FLAGS = IN_USE | PREV_IN_USE | PURGED;
    private static final long SIZE_MASK = 0xFFFF_FFF0L;
    private static final int ALIGN_SHIFT = 32;
    static final int CHECK_SHIFT = 38;
    static final int CHECK_BITS = 18;
    static final long CHECK_MASK = ((1L << CHECK_BITS) - 1) << CHECK_SHIFT;
    private static final int SLACK_SHIFT = 56;
    /** What an in-use block's check bits cover: all but PREV_IN_USE, which its neighbour flips, and themselves. */
    static final long SEALED = ~(CHECK_MASK | PREV_IN_USE | PURGED);
    /** Where the low and the high half of the header word lie, in this platform's byte order. */
    private static final long LOW_HALF = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0 : 4;
    private static final long HIGH_HALF = 4 - LOW_HALF;

    private static final MemorySegment MEMORY = AddressSpace.all();
    /** From this many bytes up, {@link #zero} calls the runtime's memset. */
    private static final long SMALL_ZEROING = 512;

    private Block() {}

    /**
     * The block size that holds a payload of {@code byteSize} bytes, or a negative number when none can (the
     * caller has checked that {@code byteSize} is not negative).
     */
    static long sizeFor(long byteSize) {
        long size = (byteSize + HEADER + GRANULE - 1) & -GRANULE;
        return size < 0 ? -1 : Math.max(size, MIN_SIZE);
    }

    static long payload(long block) {
        return block + HEADER;
    }

    static long ofPayload(long payload) {
        return payload - HEADER;
    }

    static long header(long block) {
        return MEMORY.get(JAVA_LONG, block);
    }

    static void setHeader(long block, long header) {
        MEMORY.set(JAVA_LONG, block, header);
    }

    static long size(long block) {
        return low(block) & SIZE_MASK;
    }

    static long sizeOfHeader(long header) {
        return header & SIZE_MASK;
    }

    static boolean isInUse(long block) {
        return (header(block) & IN_USE) != 0;
    }

    static boolean isPrevInUse(long block) {
        return (header(block) & PREV_IN_USE) != 0;
    }

    /** The alignment an in-use block was asked for. */
    static long alignment(long block) {
        return alignmentOfHeader(header(block));
    }

    /** The slack of an in-use block's header: payload bytes past the size asked for. */
    static long slackOfHeader(long header) {
        return header >>> SLACK_SHIFT;
    }

    /** The size an in-use block with {@code header} was asked for: its payload less its slack. */
    static long byteSizeOfHeader(long header) {
        return (header & SIZE_MASK) - HEADER - slackOfHeader(header);
    }

    /** The alignment an in-use block with {@code header} was asked for. */
    static long alignmentOfHeader(long header) {
        return 1L << ((header >>> ALIGN_SHIFT) & 0x3F);
    }

    /** The size an in-use block was asked for: its payload less the slack recorded in its header. */
    static long byteSize(long block) {
        return (low(block) & SIZE_MASK) - HEADER - (high(block) >>> (SLACK_SHIFT - 32));
    }

    /**
     * The low and the high half of the header, each read on its own: a half was just written on its own (by a thread
     * cache, or a stripe flipping a flag), and a wider read of it would wait for that write to reach the cache.
     */
    private static long low(long block) {
        return Integer.toUnsignedLong(MEMORY.get(JAVA_INT, block + LOW_HALF));
    }

    private static long high(long block) {
        return Integer.toUnsignedLong(MEMORY.get(JAVA_INT, block + HIGH_HALF));
    }

    /**
     * Writes the header of an in-use block of {@code size} bytes that holds {@code byteSize} bytes asked for at
     * {@code alignment}.
     */
    static void setInUse(long block, long size, boolean prevInUse, long byteSize, long alignment) {
        long slack = size - HEADER - byteSize;
        assert slack >= 0 && slack < 256 : "slack " + slack;
        setHeader(block, size | IN_USE | (prevInUse ? PREV_IN_USE : 0)
                | ((long) Long.numberOfTrailingZeros(alignment) << ALIGN_SHIFT) | (slack << SLACK_SHIFT));
    }

    /**
     * Rewrites the size asked for (and an alignment of one granule) in the header of an in-use block that keeps
     * its size and neighbours: a block that a thread cache hands out again.
     */
    static void setByteSize(long block, long byteSize) {
        long slack = size(block) - HEADER - byteSize;
        assert slack >= 0 && slack < 256 : "slack " + slack;
        long high = ((long) Long.numberOfTrailingZeros(GRANULE) << ALIGN_SHIFT) | (slack << SLACK_SHIFT);
        MEMORY.set(JAVA_INT, block + HIGH_HALF, (int) (high >>> 32));
    }

    /** Writes the header and footer of a free block; its links are written by {@link FreeList#insert}. */
    static void setFree(long block, long size, boolean prevInUse) {
        setHeader(block, size | (prevInUse ? PREV_IN_USE : 0));
        MEMORY.set(JAVA_LONG, block + size - HEADER, size);
    }

    /**
     * Sets or clears the PREV_IN_USE bit of the block at {@code block}, writing the low half of its header only:
     * the block may be in use, and its high half being rewritten by a thread cache at this moment.
     */
    static void setPrevInUse(long block, boolean prevInUse) {
        int low = MEMORY.get(JAVA_INT, block + LOW_HALF);
        MEMORY.set(JAVA_INT, block + LOW_HALF, prevInUse ? low | (int) PREV_IN_USE : low & ~(int) PREV_IN_USE);
    }

    static void markPurged(long block) {
        setHeader(block, header(block) | PURGED);
    }

    static boolean isPurged(long block) {
        return (header(block) & PURGED) != 0;
    }

    /** The footer of the free block that ends where {@code block} starts. */
    static long prevFooter(long block) {
        return MEMORY.get(JAVA_LONG, block - HEADER);
    }

    static long footer(long block, long size) {
        return MEMORY.get(JAVA_LONG, block + size - HEADER);
    }

    static long next(long block) {
        return MEMORY.get(JAVA_LONG, block + HEADER);
    }

    static long prev(long block) {
        return MEMORY.get(JAVA_LONG, block + HEADER + 8);
    }

    static void setNext(long block, long next) {
        MEMORY.set(JAVA_LONG, block + HEADER, next);
    }

    static void setPrev(long block, long prev) {
        MEMORY.set(JAVA_LONG, block + HEADER + 8, prev);
    }

    /** Zeroes {@code byteSize} bytes at {@code address}: memory of the allocator's own, recycled. */
    static void zero(long address, long byteSize) {
        if (byteSize >= SMALL_ZEROING) {
            MEMORY.asSlice(address, byteSize).fill((byte) 0);
            return;
        }
        // Below this, plain stores beat MemorySegment.fill, which calls the runtime's memset from 32 bytes up.
        long end = address + byteSize;
        long at = address;
        for (; at + Long.BYTES <= end; at += Long.BYTES) {
            MEMORY.set(JAVA_LONG_UNALIGNED, at, 0L);
        }
        for (; at < end; at++) {
            MEMORY.set(JAVA_BYTE, at, (byte) 0);
        }
    }

    static String describeFlags(long header) {
        return ((header & IN_USE) != 0 ? "in use" : "free")
                + ((header & PREV_IN_USE) != 0 ? ", prev in use" : ", prev free")
                + ((header & PURGED) != 0 ? ", purged" : "")
                + ((header & ~(FLAGS | SIZE_MASK | (0x3FL << ALIGN_SHIFT) | CHECK_MASK | (0xFFL << SLACK_SHIFT))) != 0
                        ? ", stray bits" : "");
    }
}
