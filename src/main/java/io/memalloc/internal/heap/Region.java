package io.memalloc.internal.heap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A region: one mapping of {@code size} bytes (a power of two), aligned to its own size, carved into blocks, owned
 * by one {@link Stripe}.
 *
 * <pre>
 *  base (a multiple of size)                                                          base + size
 *  +-------+--------------+--------------+-- ... --+-------------------------------+----------+
 *  | 8 B   | block        | block        |         | block                         | epilogue |
 *  |unused | hdr | payload| hdr | payload|         | hdr | next | prev | ... | ftr | size 0,  |
 *  |       |              |              |         |                               | in use   |
 *  +-------+--------------+--------------+-- ... --+-------------------------------+----------+
 *          ^base + 8: first block, so that payloads are 16-byte aligned              ^base + size - 8
 * </pre>
 *
 * <p>The blocks tile {@code [base + 8, base + size - 8)} exactly; the epilogue header, always "in use", stops a walk
 * and keeps the last block from merging past the end. Because a region is aligned to its size, the region of any
 * address is found in O(1) ({@link RegionTable}), and freeing checks an address against {@link #isLive} before it
 * reads a single byte of native memory: an address that is not the payload of a live block, say an interior slice
 * or a block already freed, is refused without touching memory.
 *
 * <p>Zeroing: a fresh mapping reads as zero, so only bytes below {@link #dirtyEnd} (the end of the part ever handed
 * out, plus the header and links written just after it) need zeroing when handed out again. The one word above it
 * that the allocator writes is the footer of the last free block, just below the epilogue.
 *
 * <p>Claims: one byte per 32 bytes (the smallest block), set while one thread frees or reallocates the block. A free
 * claims the block with a CAS before it takes the stripe's lock, so that of two frees of one block only one goes on:
 * the other sees the claim and is refused.
 *
 * <pre>
 *  liveStarts bit  claim byte   the block is
 *        0             0        not a block start, or free in the heap
 *        1             0        the user's
 *        1             1        being freed or reallocated: a free of it now is a double free
 * </pre>
 *
 * <p>Fields other than the final ones are guarded by the owning stripe's lock; {@code liveStarts} is also read
 * without it ({@link #isLiveNow}), and {@code claims} is only ever changed atomically.
 */
final class Region {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle BYTES = MethodHandles.arrayElementVarHandle(byte[].class);

    final long base;
    final long size;
    final Stripe stripe;
    /** One bit per 16-byte granule: set where the payload of an in-use block starts. */
    private final long[] liveStarts;
    /**
     * One bit per word of {@code liveStarts}: set where that word is not 0, so that finding the next live block
     * past a large free one reads a word per 64 KiB, not per KiB. Guarded by the stripe's lock, as its readers are.
     */
    private final long[] liveWords;
    /** One byte per 32 bytes: see the class comment. */
    private final byte[] claims;
    int liveBlocks;
    /** Every byte of {@code [dirtyEnd, end - 16)} is still zero, as the OS mapped it. */
    private long dirtyEnd;
    /** Set when the region leaves its stripe; its memory may be unmapped at any moment after. */
    boolean released;

    Region(long base, long size, Stripe stripe) {
        this.base = base;
        this.size = size;
        this.stripe = stripe;
        this.liveStarts = new long[(int) (size >>> 10)];
        this.liveWords = new long[(liveStarts.length + 63) >>> 6];
        this.claims = new byte[(int) (size >>> 5)];
    }

    long firstBlock() {
        return base + Block.HEADER;
    }

    /** The size of the first block of an empty region: all of it but the leading word and the epilogue. */
    long wholeBlockSize() {
        return size - 2 * Block.HEADER;
    }

    long epilogue() {
        return base + size - Block.HEADER;
    }

    /** Writes the one free block and the epilogue of a freshly mapped region; the caller inserts the block. */
    void initialize() {
        long whole = wholeBlockSize();
        Block.setFree(firstBlock(), whole, true);
        Block.setHeader(epilogue(), Block.IN_USE);
        dirtyEnd = firstBlock() + Block.MIN_SIZE - Block.HEADER;
    }

    boolean contains(long address) {
        return address - base >= 0 && address - base < size;
    }

    /** Whether {@code address} is the payload of an in-use block of this region. Reads no native memory. */
    boolean isLive(long address) {
        long offset = address - base;
        if ((offset & (Block.GRANULE - 1)) != 0 || offset < 0 || offset >= size) {
            return false;
        }
        long granule = offset >>> 4;
        return (liveStarts[(int) (granule >>> 6)] & (1L << granule)) != 0;
    }

    /**
     * {@link #isLive} without the stripe's lock: exact for a block the caller has claimed, and a hint otherwise
     * (a free checks it again under the lock, or after claiming).
     */
    boolean isLiveNow(long address) {
        long offset = address - base;
        if ((offset & (Block.GRANULE - 1)) != 0 || offset < 0 || offset >= size) {
            return false;
        }
        long granule = offset >>> 4;
        return ((long) LONGS.getAcquire(liveStarts, (int) (granule >>> 6)) & (1L << granule)) != 0;
    }

    /**
     * Claims the block whose payload is at {@code payload}, a live block start: false when another thread has
     * claimed it already (it is being freed or reallocated).
     */
    boolean claim(long payload) {
        return BYTES.compareAndSet(claims, claimIndex(payload), (byte) 0, (byte) 1);
    }

    /** Lets go of a claim, after every write to the block and to {@code liveStarts} that the claim covered. */
    void unclaim(long payload) {
        BYTES.setRelease(claims, claimIndex(payload), (byte) 0);
    }

    /** Whether a block is claimed: for {@link HeapVerifier}. */
    boolean isClaimed(long payload) {
        return (byte) BYTES.getAcquire(claims, claimIndex(payload)) != 0;
    }

    /** Payloads of blocks start at least 32 bytes apart, so each has a claim byte of its own. */
    private int claimIndex(long payload) {
        return (int) ((payload - base) >>> 5);
    }

    /** How many payloads are marked live: for {@link HeapVerifier}. */
    int liveMarks() {
        int marks = 0;
        for (long word : liveStarts) {
            marks += Long.bitCount(word);
        }
        return marks;
    }

    /**
     * The payload of the first live block after {@code payload}, or {@code epilogue() + HEADER} when there is none:
     * the block at {@code payload} ends there at the latest, and a free block there ends exactly there (free blocks
     * are always merged, so a free block is followed by a live one or the epilogue). Reads no native memory.
     */
    long nextLivePayload(long payload) {
        long granule = ((payload - base) >>> 4) + 1;
        int word = (int) (granule >>> 6);
        if (word < liveStarts.length) {
            long bits = liveStarts[word] & (-1L << granule);
            if (bits != 0) {
                return payloadAt(word, Long.numberOfTrailingZeros(bits));
            }
            word++;
        }
        int summary = word >>> 6;
        long words = summary < liveWords.length ? liveWords[summary] & (-1L << word) : 0;
        while (words == 0) {
            if (++summary >= liveWords.length) {
                return epilogue() + Block.HEADER;
            }
            words = liveWords[summary];
        }
        word = (summary << 6) + Long.numberOfTrailingZeros(words);
        return payloadAt(word, Long.numberOfTrailingZeros(liveStarts[word]));
    }

    /** The payload of the last live block before {@code payload}, or 0 when there is none. Reads no native memory. */
    long prevLivePayload(long payload) {
        long granule = (payload - base) >>> 4;
        int word = (int) (granule >>> 6);
        long bits = liveStarts[word] & ((1L << granule) - 1);
        if (bits != 0) {
            return payloadAt(word, 63 - Long.numberOfLeadingZeros(bits));
        }
        int summary = word >>> 6;
        long words = liveWords[summary] & ((1L << word) - 1);
        while (words == 0) {
            if (--summary < 0) {
                return 0;
            }
            words = liveWords[summary];
        }
        word = (summary << 6) + 63 - Long.numberOfLeadingZeros(words);
        return payloadAt(word, 63 - Long.numberOfLeadingZeros(liveStarts[word]));
    }

    /** The payload whose live bit is {@code bit} of word {@code word} of {@code liveStarts}. */
    private long payloadAt(int word, int bit) {
        return base + ((((long) word << 6) + bit) << 4);
    }

    void markLive(long payload) {
        long granule = (payload - base) >>> 4;
        int word = (int) (granule >>> 6);
        liveStarts[word] |= 1L << granule;
        liveWords[word >>> 6] |= 1L << word;
    }

    void clearLive(long payload) {
        long granule = (payload - base) >>> 4;
        int word = (int) (granule >>> 6);
        if ((liveStarts[word] &= ~(1L << granule)) == 0) {
            liveWords[word >>> 6] &= ~(1L << word);
        }
    }

    /**
     * Hands out {@code [from, to)} of the block that ends at {@code blockEnd}: zeroes what of it may hold old bytes
     * when {@code zero} is set, and moves {@link #dirtyEnd} past the block and the header and links that may
     * follow it.
     */
    void handOut(long from, long to, long blockEnd, boolean zero) {
        if (zero) {
            Block.zero(from, Math.min(to, dirtyEnd) - from);
            long lastFooter = epilogue() - Block.HEADER;
            if (to > lastFooter && lastFooter >= dirtyEnd) {
                long start = Math.max(from, lastFooter);
                Block.zero(start, lastFooter + Block.HEADER - start);
            }
        }
        dirtyEnd = Math.max(dirtyEnd, Math.min(blockEnd + Block.MIN_SIZE - Block.HEADER, epilogue()));
    }

    @Override
    public String toString() {
        return "region 0x" + Long.toHexString(base) + " (" + Sizes.format(size) + ", stripe " + stripe.index + ")";
    }
}
