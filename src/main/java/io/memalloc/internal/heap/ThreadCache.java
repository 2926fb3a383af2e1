package io.memalloc.internal.heap;

import java.util.Arrays;

/**
 * One thread's stock of free small blocks of one {@link Heap}: allocate and free without a lock, most of the time.
 *
 * <pre>
 *  bin k (blocks of exactly 16 k bytes)      count
 *  +---------+---------+---------+-- ... ---+
 *  | payload | payload | payload |          |   a stack: pop to allocate, push to free
 *  | region  | region  | region  |          |
 *  +---------+---------+---------+-- ... ---+
 *     empty: refill half of it from the thread's stripe, one lock for the lot  ({@link Heap#fillCache})
 *     full:  give the older half back to the stripes                            ({@link Heap#flushCache})
 * </pre>
 *
 * <p>The heap counts a cached block as in use: its liveness bit is set and it is claimed ({@link Region#claim}), so
 * that a second free of it is refused while it waits here, whichever thread tries. Handing it out clears the claim;
 * freeing it claims it again with one CAS. So an allocate from the cache takes no atomic instruction at all and a
 * free one, where the stripe's lock takes two and a search of the free lists.
 *
 * <p>Counters: the stripes count a block when it enters or leaves the heap's free lists; the user counts it when it
 * enters or leaves the user's hands. The three deltas here are the difference for the blocks that went through this
 * cache, so that {@link Heap#stats} is the user's view: the stripes' counters plus every cache's deltas. Written by
 * the owner thread only; read by others for statistics, exact once the owner has stopped allocating.
 *
 * <p>A freed block is kept only when it lies in the {@link #hot} region, the one the cache last refilled from:
 * blocks a thread frees long after it allocated them, or that another thread allocated, go straight back to their
 * stripe, so that caches never keep regions mapped that their frees would have emptied.
 *
 * <p>Only the owner thread touches a cache, until the owner dies: then the heap flushes it, at the next
 * {@link Heap#trim} or when the next new thread makes its cache.
 */
final class ThreadCache {
    /** Blocks up to this size (header included) are cached: requests up to 1,016 bytes. */
    static final long MAX_BLOCK = 1024;
    private static final int BINS = (int) (MAX_BLOCK / Block.GRANULE) + 1;
    /** About this many bytes per bin, and at least {@link #MIN_CAPACITY} blocks. */
    private static final long BIN_BYTES = 4096;
    private static final int MIN_CAPACITY = 4;
    private static final int MAX_CAPACITY = 64;
    /** A free that leaves a region with this many blocks in use or fewer flushes the cache's blocks of it. */
    static final int FEW_LEFT = 64;

    final Thread owner;
    private final long[][] payloads = new long[BINS][];
    private final Region[][] regions = new Region[BINS][];
    private final int[] counts = new int[BINS];
    /** Set by another thread that wants this cache's blocks back in the heap (trim); the owner flushes. */
    volatile boolean flushRequested;
    /**
     * The region of the last refill: only blocks of this region are kept when freed, so that a cache keeps at most
     * one region mapped that would otherwise be empty, however scattered the blocks its thread frees.
     */
    Region hot;

    long bytesDelta;
    long allocationsDelta;
    long freesDelta;
    /**
     * What handing blocks out again added to their headers' sizes, which their stripes counted as they were: for
     * {@link HeapVerifier}.
     */
    long headerDrift;

    ThreadCache(Thread owner) {
        this.owner = owner;
    }

    static boolean caches(long blockSize) {
        return blockSize <= MAX_BLOCK;
    }

    static int capacity(long blockSize) {
        return (int) Math.max(MIN_CAPACITY, Math.min(MAX_CAPACITY, BIN_BYTES / blockSize));
    }

    /** How many blocks the cache holds now, in all its bins. */
    int blockCount() {
        int total = 0;
        for (int count : counts) {
            total += count;
        }
        return total;
    }

    /** How many blocks of {@code blockSize} the cache holds now. */
    int count(long blockSize) {
        return counts[bin(blockSize)];
    }

    /**
     * A block of {@code blockSize} for {@code byteSize} bytes from the cache, handed out (its claim cleared), or 0
     * when the cache has none.
     */
    long allocate(long byteSize, long blockSize, boolean zero) {
        int bin = bin(blockSize);
        int count = counts[bin];
        if (count == 0) {
            return 0;
        }
        count--;
        counts[bin] = count;
        long payload = payloads[bin][count];
        Region region = regions[bin][count];
        regions[bin][count] = null;
        long block = Block.ofPayload(payload);
        headerDrift += byteSize - Block.byteSize(block);
        Block.setByteSize(block, byteSize);
        if (zero) {
            Block.zero(payload, byteSize);
        }
        region.unclaim(payload);
        bytesDelta += byteSize;
        allocationsDelta++;
        return payload;
    }

    /**
     * Keeps a block the caller has claimed and that its user has let go of.
     *
     * @return false when the bin is full: the caller flushes it, then pushes again
     */
    boolean free(long payload, Region region, long blockSize) {
        if (!add(payload, region, blockSize)) {
            return false;
        }
        bytesDelta -= Block.byteSize(Block.ofPayload(payload));
        freesDelta++;
        return true;
    }

    /** Keeps a block just taken from the heap for this cache (claimed, counted by its stripe as allocated). */
    boolean addRefilled(long payload, Region region, long blockSize, long byteSize) {
        if (!add(payload, region, blockSize)) {
            return false;
        }
        hot = region;
        bytesDelta -= byteSize;
        allocationsDelta--;
        return true;
    }

    /** Counts a block that went back from this cache to its stripe, whose header said {@code byteSize}. */
    void countFlushed(long byteSize) {
        bytesDelta += byteSize;
        freesDelta--;
    }

    /**
     * Makes the bin for {@code blockSize} if it has none yet: the one allocation on the Java heap a cache makes, done
     * before the heap takes a lock or claims a block, so that an {@link OutOfMemoryError} leaves nothing half done.
     */
    void prepare(long blockSize) {
        int bin = bin(blockSize);
        if (payloads[bin] == null) {
            long[] newPayloads = new long[capacity(blockSize)];
            regions[bin] = new Region[newPayloads.length];
            payloads[bin] = newPayloads;
        }
    }

    private boolean add(long payload, Region region, long blockSize) {
        prepare(blockSize);
        int bin = bin(blockSize);
        int count = counts[bin];
        if (count == payloads[bin].length) {
            return false;
        }
        payloads[bin][count] = payload;
        regions[bin][count] = region;
        counts[bin] = count + 1;
        return true;
    }

    /**
     * Takes the oldest {@code n} blocks of {@code blockSize} out of the cache, for the heap to free: their payloads
     * and regions go into the arrays given, in order.
     *
     * @return how many were taken
     */
    int takeOldest(long blockSize, int n, long[] payloadsOut, Region[] regionsOut) {
        int bin = bin(blockSize);
        int count = counts[bin];
        int taken = Math.min(n, count);
        if (taken == 0) {
            return 0;
        }
        System.arraycopy(payloads[bin], 0, payloadsOut, 0, taken);
        System.arraycopy(regions[bin], 0, regionsOut, 0, taken);
        System.arraycopy(payloads[bin], taken, payloads[bin], 0, count - taken);
        System.arraycopy(regions[bin], taken, regions[bin], 0, count - taken);
        Arrays.fill(regions[bin], count - taken, count, null);
        counts[bin] = count - taken;
        return taken;
    }

    /** Takes every block of {@code region} out of the cache, for the heap to free; returns their payloads. */
    long[] takeRegion(Region region) {
        long[] taken = new long[blockCount()];
        int n = 0;
        for (int bin = 0; bin < BINS; bin++) {
            int kept = 0;
            for (int i = 0; i < counts[bin]; i++) {
                if (regions[bin][i] == region) {
                    taken[n++] = payloads[bin][i];
                } else {
                    payloads[bin][kept] = payloads[bin][i];
                    regions[bin][kept] = regions[bin][i];
                    kept++;
                }
            }
            if (regions[bin] != null) {
                Arrays.fill(regions[bin], kept, counts[bin], null);
            }
            counts[bin] = kept;
        }
        if (hot == region) {
            hot = null;
        }
        return Arrays.copyOf(taken, n);
    }

    /** The block sizes of the bins that hold blocks, smallest first: for a flush of everything. */
    long[] sizesHeld() {
        int n = 0;
        for (int count : counts) {
            if (count > 0) {
                n++;
            }
        }
        long[] sizes = new long[n];
        int i = 0;
        for (int bin = 0; bin < BINS; bin++) {
            if (counts[bin] > 0) {
                sizes[i++] = bin * Block.GRANULE;
            }
        }
        return sizes;
    }

    /** Whether the owner thread has died, so that another thread may flush this cache. */
    boolean ownerDied() {
        return !owner.isAlive();
    }

    private static int bin(long blockSize) {
        return (int) (blockSize >>> 4);
    }
}
