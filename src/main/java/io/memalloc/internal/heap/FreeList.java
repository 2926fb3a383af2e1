package io.memalloc.internal.heap;

import java.util.Arrays;
import java.util.function.LongPredicate;

/**
 * The free blocks of one {@link Stripe}, in segregated lists with two levels of bitmaps: a two-level segregated fit
 * (TLSF, Masmano et al. 2004). Finding a block, inserting and removing one are O(1).
 *
 * <pre>
 *  size class (bin) of a block of s bytes:
 *    s &lt; 256:   bin s / 16                                    exact: every block in it has the same size
 *    s &gt;= 256:  first level  f = log2(s) - 7   (1, 2, ...)    each power of two ...
 *              second level  = the next 4 bits of s below the top one    ... cut in 16 classes
 *
 *  firstLevelMap   bit f set  &lt;=&gt;  secondLevelMap[f] != 0
 *  secondLevelMap[f]  bit l set  &lt;=&gt;  heads[f * 16 + l] != 0
 *
 *  heads[bin] --&gt; +--------+     +--------+
 *                 | block  | --&gt; | block  | --&gt; 0        next / prev links live in the free blocks'
 *            0 &lt;-- |        | &lt;-- |        |              payloads (see Block)
 *                 +--------+     +--------+
 * </pre>
 *
 * <p>A search first looks at a few blocks of the request's own bin (so that a block freed a moment ago, or two
 * merged neighbours, serve a request of their size at their address), then rounds the request up to the next
 * class boundary so that any block of the first non-empty bin found through the bitmaps fits ("good fit"), and, only
 * when that finds nothing, walks the request's own bin to the end, so that no block that fits is ever missed.
 * Blocks are pushed at the head (LIFO) so that recently used memory, still in cache, is used first.
 *
 * <p>In a hardened heap every link is stored XORed with a secret key, and checked when read: it must decode to 0 or
 * to a free block of the same stripe. A stray write over a free block's links (a write after free, an overflow from
 * the block before) then ends in an {@link IllegalStateException} instead of the list following it into memory
 * that is not free; and a block taken out of its list must be linked back by both neighbours (safe unlinking), so
 * that a link rewritten to another free block is caught too.
 */
final class FreeList {
    private static final int SECOND_LEVEL_BITS = 4;
    private static final int SECOND_LEVEL_COUNT = 1 << SECOND_LEVEL_BITS;
    /** Below 256 B (16 classes of 16 B) the classes are exact. */
    private static final int SMALL_LOG2 = 8;
    private static final long SMALL_LIMIT = 1L << SMALL_LOG2;
    /** Enough first levels for blocks below 2^39 bytes, more than the largest region. */
    static final int FIRST_LEVEL_COUNT = 32;
    static final int BIN_COUNT = FIRST_LEVEL_COUNT * SECOND_LEVEL_COUNT;
    /** How many blocks of its own bin a search looks at before it rounds up. */
    private static final int OWN_BIN_PEEK = 4;

    /** XORed into every link stored; 0 when the heap is not hardened. */
    private final long key;
    /** Whether an address is a free block of this list's stripe; null when links are not checked. */
    private final LongPredicate isFreeBlock;
    private long firstLevelMap;
    private final int[] secondLevelMap = new int[FIRST_LEVEL_COUNT];
    private final long[] heads = new long[BIN_COUNT];

    FreeList() {
        this(0, null);
    }

    /** A list whose links are stored XORed with {@code key} and checked with {@code isFreeBlock} when read. */
    FreeList(long key, LongPredicate isFreeBlock) {
        this.key = key;
        this.isFreeBlock = isFreeBlock;
    }

    /** The block after {@code block} in its list, or 0. */
    long next(long block) {
        return decoded(block, Block.next(block));
    }

    /** The block before {@code block} in its list, or 0. */
    long prev(long block) {
        return decoded(block, Block.prev(block));
    }

    private long decoded(long block, long stored) {
        long link = stored ^ key;
        if (isFreeBlock != null && link != 0 && !isFreeBlock.test(link)) {
            throw new DamagedBlockException(block, String.format("a free list is corrupt: the free block at 0x%x links to"
                    + " 0x%x, which is not a free block of its stripe (was freed memory written to?)", block, link));
        }
        return link;
    }

    private void setNext(long block, long next) {
        Block.setNext(block, next ^ key);
    }

    private void setPrev(long block, long prev) {
        Block.setPrev(block, prev ^ key);
    }

    /** The bin that holds free blocks of {@code size} bytes. */
    static int binOf(long size) {
        if (size < SMALL_LIMIT) {
            return (int) (size >>> 4);
        }
        int log2 = 63 - Long.numberOfLeadingZeros(size);
        int firstLevel = log2 - SMALL_LOG2 + 1;
        int secondLevel = (int) (size >>> (log2 - SECOND_LEVEL_BITS)) & (SECOND_LEVEL_COUNT - 1);
        return firstLevel * SECOND_LEVEL_COUNT + secondLevel;
    }

    /** The first block of {@code bin}, or 0 when it is empty. */
    long head(int bin) {
        return heads[bin];
    }

    void insert(long block, long size) {
        int bin = binOf(size);
        long head = heads[bin];
        setNext(block, head);
        setPrev(block, 0);
        if (head != 0) {
            setPrev(head, block);
        }
        heads[bin] = block;
        int firstLevel = bin / SECOND_LEVEL_COUNT;
        secondLevelMap[firstLevel] |= 1 << (bin % SECOND_LEVEL_COUNT);
        firstLevelMap |= 1L << firstLevel;
    }

    void remove(long block, long size) {
        int bin = binOf(size);
        long next = next(block);
        long prev = prev(block);
        if (isFreeBlock != null) {
            checkLinkedBack(block, next, prev, bin);
        }
        unlink(next, prev, bin);
    }

    /**
     * Takes a free block out of its list from its links alone, for a block whose header a hardened heap found damaged
     * (its size, and with it its bin, cannot be trusted). The links are checked as every link is, and must link back.
     *
     * @return whether it was taken out; false when its links are damaged too (nothing changed)
     */
    boolean unlink(long block) {
        long next;
        long prev;
        try {
            next = next(block);
            prev = prev(block);
            if ((next != 0 && prev(next) != block) || (prev != 0 && next(prev) != block)) {
                return false;
            }
        } catch (DamagedBlockException damaged) {
            return false;
        }
        int bin = 0;
        if (prev == 0) { // the head of its bin: which one, the heads say
            while (bin < BIN_COUNT && heads[bin] != block) {
                bin++;
            }
            if (bin == BIN_COUNT) {
                return false;
            }
        }
        unlink(next, prev, bin);
        return true;
    }

    /** Unlinks the block whose links are {@code next} and {@code prev} from {@code bin} (used when it is the head). */
    private void unlink(long next, long prev, int bin) {
        if (next != 0) {
            setPrev(next, prev);
        }
        if (prev != 0) {
            setNext(prev, next);
        } else {
            heads[bin] = next;
            if (next == 0) {
                int firstLevel = bin / SECOND_LEVEL_COUNT;
                secondLevelMap[firstLevel] &= ~(1 << (bin % SECOND_LEVEL_COUNT));
                if (secondLevelMap[firstLevel] == 0) {
                    firstLevelMap &= ~(1L << firstLevel);
                }
            }
        }
    }

    /**
     * Checks, in a list whose links are checked, that the free block at {@code block} of {@code size} bytes is in its
     * list: linked back by both neighbours, or its bin's head. Changes nothing, so that a caller can check every block
     * it will unlink before it unlinks any.
     *
     * @throws IllegalStateException when it is not
     */
    void checkListed(long block, long size) {
        if (isFreeBlock != null) {
            checkLinkedBack(block, next(block), prev(block), binOf(size));
        }
    }

    /**
     * Safe unlinking: both neighbours of a block taken out must point back at it (or it must be its bin's head),
     * so that a link overwritten with the address of some other free block is not followed either.
     */
    private void checkLinkedBack(long block, long next, long prev, int bin) {
        long nextBack = next == 0 ? block : prev(next);
        long prevBack = prev == 0 ? heads[bin] : next(prev);
        if (nextBack != block || prevBack != block) {
            throw new DamagedBlockException(block, String.format("a free list is corrupt: the free block at 0x%x is not"
                    + " linked back by its %s (was freed memory written to?)", block,
                    nextBack != block ? String.format("next, 0x%x", next) : prev == 0 ? "bin's head"
                            : String.format("previous, 0x%x", prev)));
        }
    }

    /** A free block of at least {@code size} bytes (still in its list), or 0 when there is none. */
    long find(long size) {
        int ownBin = binOf(size);
        long block = firstFit(heads[ownBin], size, OWN_BIN_PEEK);
        if (block != 0) {
            return block;
        }
        block = goodFit(size);
        return block != 0 ? block : firstFit(heads[ownBin], size, Integer.MAX_VALUE);
    }

    private long firstFit(long block, long size, int limit) {
        for (int seen = 0; block != 0 && seen < limit; seen++, block = next(block)) {
            if (Block.size(block) >= size) {
                return block;
            }
        }
        return 0;
    }

    /** The head of the first non-empty bin whose every block holds {@code size} bytes, or 0. */
    private long goodFit(long size) {
        long rounded = size;
        if (size >= SMALL_LIMIT) {
            int log2 = 63 - Long.numberOfLeadingZeros(size);
            rounded = size + (1L << (log2 - SECOND_LEVEL_BITS)) - 1;
        }
        int bin = binOf(rounded);
        int firstLevel = bin / SECOND_LEVEL_COUNT;
        if (firstLevel >= FIRST_LEVEL_COUNT) {
            return 0;
        }
        int secondLevels = secondLevelMap[firstLevel] & (-1 << (bin % SECOND_LEVEL_COUNT));
        if (secondLevels == 0) {
            long firstLevels = firstLevel + 1 < FIRST_LEVEL_COUNT ? firstLevelMap & (-1L << (firstLevel + 1)) : 0;
            if (firstLevels == 0) {
                return 0;
            }
            firstLevel = Long.numberOfTrailingZeros(firstLevels);
            secondLevels = secondLevelMap[firstLevel];
        }
        return heads[firstLevel * SECOND_LEVEL_COUNT + Integer.numberOfTrailingZeros(secondLevels)];
    }

    /** Forgets every block: their regions are gone. */
    void clear() {
        firstLevelMap = 0;
        Arrays.fill(secondLevelMap, 0);
        Arrays.fill(heads, 0);
    }

    /** Whether the bitmaps say {@code bin} is non-empty: for {@link HeapVerifier}. */
    boolean bitmapsSayNonEmpty(int bin) {
        int firstLevel = bin / SECOND_LEVEL_COUNT;
        return (secondLevelMap[firstLevel] & (1 << (bin % SECOND_LEVEL_COUNT))) != 0
                && (firstLevelMap & (1L << firstLevel)) != 0;
    }
}
