package io.memalloc.internal.heap;

import java.util.Arrays;

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

    private long firstLevelMap;
    private final int[] secondLevelMap = new int[FIRST_LEVEL_COUNT];
    private final long[] heads = new long[BIN_COUNT];

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
        Block.setNext(block, head);
        Block.setPrev(block, 0);
        if (head != 0) {
            Block.setPrev(head, block);
        }
        heads[bin] = block;
        int firstLevel = bin / SECOND_LEVEL_COUNT;
        secondLevelMap[firstLevel] |= 1 << (bin % SECOND_LEVEL_COUNT);
        firstLevelMap |= 1L << firstLevel;
    }

    void remove(long block, long size) {
        int bin = binOf(size);
        long next = Block.next(block);
        long prev = Block.prev(block);
        if (next != 0) {
            Block.setPrev(next, prev);
        }
        if (prev != 0) {
            Block.setNext(prev, next);
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

    private static long firstFit(long block, long size, int limit) {
        for (int seen = 0; block != 0 && seen < limit; seen++, block = Block.next(block)) {
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
