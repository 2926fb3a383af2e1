package io.memalloc.internal.heap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * 64 KiB of a {@link PageRegion} cut into blocks of one {@link SizeClasses size class}, owned by one
 * {@link ThreadHeap} at a time. Nothing about a block is kept in native memory: a small block has no header, and a
 * write past its end reaches its neighbour's bytes, never the allocator's.
 *
 * <pre>
 *  native:  base (a multiple of 64 KiB)                                           base + 64 KiB
 *           +----------+----------+----------+-- ... --+----------+---------+
 *           | block 0  | block 1  | block 2  |         | block n-1| (unused)|   n = capacity = 64 KiB / size
 *           +----------+----------+----------+-- ... --+----------+---------+
 *  Java:    dirty   1 bit a block: free for the owner to hand out, may hold old bytes     owner only, plain
 *           clean   1 bit a block: free for the owner to hand out, reads as zero          owner only, plain
 *           remote  1 bit a block: freed by another thread, until collected (into dirty)  any thread, atomic OR
 *           slack   1 byte a block: its size minus the bytes asked for                    for statistics
 * </pre>
 *
 * <p>The owner allocates by taking the lowest set bit of {@code clean} (for a zeroed allocation) or of
 * {@code dirty}, then {@code clean} (for an uninitialized one), and frees by setting the block's bit in
 * {@code dirty}: plain loads and stores, no lock, no atomic. Zeroing happens a word of 64 blocks at a time, out of
 * the allocation's way, when a zeroed allocation finds no clean block ({@link #dirtyWord}, {@link #cleaned}). A
 * fresh mapping's page starts all clean, a page in a slot used before all dirty.
 *
 * <p>Another thread frees by setting the block's bit in {@code remote} with one atomic OR, and tells the owner once
 * ({@link #pending}, then a push on the owner's {@link PageStack}); the owner folds the remote bits into
 * {@code dirty} ({@link #collectRemote}) when its page runs dry, as mimalloc's thread-free list. A block is live
 * when none of its three bits is set, so a second free of it is refused wherever it comes from, and when two frees
 * of one block race on two threads, the one bit each sets keeps the block from being handed out twice.
 *
 * <p>States: {@link #OWNED} by {@link #owner}; {@link #ABANDONED} once its owner's thread ended with blocks still
 * live (any thread may then collect its remote frees, or adopt it); {@link #BUSY} while one thread moves it between
 * those; {@link #RELEASED} once it went back to its region, after which nothing of it is used.
 */
final class Page {
    static final int SHIFT = 16;
    static final long SIZE = 1L << SHIFT;

    static final int OWNED = 0;
    static final int BUSY = 1;
    static final int ABANDONED = 2;
    static final int RELEASED = 3;

    /** Words of padding on either side of {@link #remote}'s: a cache line of 64 bytes. */
    private static final int PAD = 8;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle STATE;
    private static final VarHandle PENDING;
    private static final VarHandle ON_STACK;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            STATE = lookup.findVarHandle(Page.class, "state", int.class);
            PENDING = lookup.findVarHandle(Page.class, "pending", boolean.class);
            ON_STACK = lookup.findVarHandle(Page.class, "onStack", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final PageRegion region;
    /** The page regions of the heap this page is of: {@link PageMap} holds the pages of every heap. */
    final PageRegions regions;
    final int slot;
    final long base;
    final int sizeClass;
    final int blockSize;
    final int capacity;
    /** {@code ceil(2^32 / blockSize)}: the index of a block is {@code (offset * reciprocal) >>> 32}, no division. */
    private final long reciprocal;
    /** The words of a bitmap: {@code ceil(capacity / 64)}. */
    private final int words;
    /** With one more word, always 0, where a cursor rests when no word has a bit: no test of the bound first. */
    private final long[] dirty;
    private final long[] clean;
    /**
     * Its words at {@link #PAD} and after: other threads write them, so they keep a cache line away from what the
     * owner writes (the arrays of a page are allocated side by side).
     */
    private final long[] remote;
    private final byte[] slack;
    /** Blocks not free for the owner: in users' hands, or freed by another thread and not collected yet. */
    int used;
    /** No word of {@code dirty} below this one has a bit set. */
    private int dirtyCursor;
    /** No word of {@code clean} below this one has a bit set. */
    private int cleanCursor;
    /** Whether the owner keeps this page in its list of pages with free blocks. */
    boolean listed;
    /** Whether this is the emptied page its owner keeps for the next allocation ({@link ThreadHeap#kept}). */
    boolean kept;
    /**
     * The owner's counts of what it handed out here, and of the remote frees it collected; its own frees are what
     * that leaves ({@link #frees}), one store fewer on each free. Remote frees are counted apart.
     */
    long allocations;
    long collectedRemote;
    long allocatedBytes;
    /** Where the owner keeps this page among all of its own. */
    int ownerIndex;

    /** The heap that owns the page: null while it is abandoned. */
    private volatile ThreadHeap owner;
    /**
     * The platform thread of {@link #owner}, or null: a free compares it with its own thread to know whether it is
     * the owner's, without finding its own heap first. Only the owner sets it to itself.
     */
    private volatile Thread ownerThread;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;
    /** Set by the first remote free since the owner last collected: that free tells the owner. */
    @SuppressWarnings("unused") // through PENDING
    private volatile boolean pending;
    /** Frees found to have raced with another free of the same block, and their bytes: see {@link #collectRemote}. */
    int raced;
    long racedBytes;
    /** Whether the page is on a {@link PageStack}: a page is pushed only by the free that sets it. */
    @SuppressWarnings("unused") // through ON_STACK
    private volatile boolean onStack;
    /** The next page in the {@link PageStack} this page is on. */
    Page nextPending;

    /**
     * @param zeroed whether the page's memory reads as zero (as mapped, never handed out since)
     */
    Page(PageRegion region, int slot, int sizeClass, boolean zeroed, ThreadHeap owner) {
        this.region = region;
        this.regions = region.regions;
        this.slot = slot;
        this.base = region.base + ((long) slot << SHIFT);
        this.sizeClass = sizeClass;
        this.blockSize = SizeClasses.size(sizeClass);
        this.capacity = (int) (SIZE / blockSize);
        this.reciprocal = (1L << 32) / blockSize + 1;
        int words = (capacity + 63) >>> 6;
        this.words = words;
        this.dirty = new long[words + 1];
        this.clean = new long[words + 1];
        this.remote = new long[words + 2 * PAD];
        this.slack = new byte[capacity];
        long[] free = zeroed ? clean : dirty;
        for (int w = 0; w < words; w++) {
            int bits = Math.min(64, capacity - (w << 6));
            free[w] = bits == 64 ? -1L : (1L << bits) - 1;
        }
        if (zeroed) {
            dirtyCursor = words;
        } else {
            cleanCursor = words;
        }
        setOwner(owner);
    }

    ThreadHeap owner() {
        return owner;
    }

    void setOwner(ThreadHeap heap) {
        owner = heap;
        ownerThread = heap == null ? null : heap.thread;
    }

    /** Whether the calling thread is the platform thread that owns this page. */
    boolean isOwnedByCurrentThread() {
        return ownerThread == Thread.currentThread();
    }

    /** Whether {@code thread}, the calling thread, is the platform thread that owns this page. */
    boolean isOwnedBy(Thread thread) {
        return ownerThread == thread;
    }

    /**
     * Takes a free block that reads as zero for a request of {@code byteSize} bytes (at most {@link #blockSize});
     * owner only.
     *
     * @return the block's address, or 0 when no clean block is free (dirty ones and remote frees may be)
     */
    long allocateClean(long byteSize) {
        int w = cleanCursor;
        long bits = clean[w];
        if (bits == 0) {
            return allocateCleanFurther(byteSize); // out of line: the loop would make every caller's code bigger
        }
        clean[w] = bits & (bits - 1);
        return taken((w << 6) | Long.numberOfTrailingZeros(bits), byteSize);
    }

    /**
     * Takes any free block for a request of {@code byteSize} bytes, a dirty one first (a zeroed allocation has no use
     * for it); owner only.
     *
     * @return the block's address, or 0 when no block is free (remote frees may be waiting)
     */
    long allocateAny(long byteSize) {
        int w = dirtyCursor;
        long bits = dirty[w];
        if (bits == 0) {
            return allocateAnyFurther(byteSize);
        }
        dirty[w] = bits & (bits - 1);
        return taken((w << 6) | Long.numberOfTrailingZeros(bits), byteSize);
    }

    private long allocateCleanFurther(long byteSize) {
        cleanCursor = firstWordWithBits(clean, cleanCursor);
        return cleanCursor < words ? allocateClean(byteSize) : 0;
    }

    private long allocateAnyFurther(long byteSize) {
        dirtyCursor = firstWordWithBits(dirty, dirtyCursor);
        return dirtyCursor < words ? allocateAny(byteSize) : allocateClean(byteSize);
    }

    /** The first word of {@code bits} at or after {@code from} with a bit set, or {@link #words} when none has. */
    private int firstWordWithBits(long[] bits, int from) {
        int w = from;
        while (w < words && bits[w] == 0) {
            w++;
        }
        return w;
    }

    private long taken(int index, long byteSize) {
        slack[index] = (byte) (blockSize - byteSize);
        used++;
        allocations++;
        allocatedBytes += byteSize;
        return blockAt(index);
    }

    /**
     * The first word that has free dirty blocks, for the owner to zero them ({@link #dirtyBits}) and then call
     * {@link #cleaned}; -1 when no free block is dirty.
     */
    int dirtyWord() {
        dirtyCursor = firstWordWithBits(dirty, dirtyCursor);
        return dirtyCursor < words ? dirtyCursor : -1;
    }

    /** The free dirty blocks of word {@code w}: bit {@code i} is block {@code 64 * w + i}. */
    long dirtyBits(int w) {
        return dirty[w];
    }

    /** The owner has zeroed the free dirty blocks {@code zeroed} of word {@code w} (of {@link #dirtyBits}). */
    void cleaned(int w, long zeroed) {
        clean[w] |= zeroed;
        dirty[w] &= ~zeroed;
        if (w < cleanCursor) {
            cleanCursor = w;
        }
    }

    long blockAt(int index) {
        return base + (long) index * blockSize;
    }

    /**
     * The index of the block that starts at {@code address}, an address in this page (as {@link PageMap#find}
     * gives it), or -1 when no block starts there. Reads no native memory.
     */
    int indexOf(long address) {
        assert address >>> SHIFT == base >>> SHIFT : "0x" + Long.toHexString(address) + " is not in " + this;
        long offset = address & (SIZE - 1); // not address - base: one load fewer before a free's index is known
        int index = (int) ((offset * reciprocal) >>> 32);
        long mismatch = (long) index * blockSize - offset;
        // The sign bit is set when the index is past the last block or the offset not at a block's start: one test
        // instead of three branches, each of which costs the callers' code.
        long outside = (capacity - 1L - index) | mismatch | -mismatch;
        return outside < 0 ? -1 : index;
    }

    /** Whether the block at {@code index} is in a user's hands; exact for the owner, a hint for other threads. */
    boolean isLive(int index) {
        int w = index >>> 6;
        return ((dirty[w] | clean[w] | remote[PAD + w]) & (1L << index)) == 0;
    }

    /** The bytes asked for by the live block at {@code index}. */
    long requested(int index) {
        return (long) blockSize - (slack[index] & 0xFF);
    }

    /** Records that the live block at {@code index} now holds {@code byteSize} bytes (at most the block size). */
    void resize(int index, long byteSize) {
        slack[index] = (byte) (blockSize - byteSize);
    }

    /**
     * Frees the block at {@code index}; owner only.
     *
     * @return false, and nothing changed, when the block is not live
     */
    boolean freeLocal(int index) {
        int w = index >>> 6;
        long bit = 1L << index;
        long bits = dirty[w];
        if (((bits | clean[w] | remote[PAD + w]) & bit) != 0) {
            return false;
        }
        dirty[w] = bits | bit;
        if (w < dirtyCursor) { // a branch, not a min: the next allocation's load of the cursor waits for nothing
            dirtyCursor = w;
        }
        used--;
        allocatedBytes -= requested(index);
        return true;
    }

    /**
     * Frees the block at {@code index} from a thread that is not the owner, with one atomic OR; the caller then
     * tells the owner if it is the first ({@link #claimTelling}).
     *
     * @throws IllegalArgumentException when the block was freed already (seen by this thread, or racing with it)
     */
    void freeRemote(int index, long address) {
        int w = index >>> 6;
        long bit = 1L << index;
        if (((dirty[w] | clean[w]) & bit) != 0) {
            throw Heap.notLive(address);
        }
        long before = (long) LONGS.getAndBitwiseOr(remote, PAD + (index >>> 6), bit);
        if ((before & bit) != 0) {
            throw Heap.notLive(address);
        }
    }

    /** Whether the caller is the first remote free since the last collection, and so the one to tell the owner. */
    boolean claimTelling() {
        return !pending && PENDING.compareAndSet(this, false, true);
    }

    /**
     * Lets the next remote free tell the owner again: before a collection, so that no free goes untold. The fence
     * keeps the collection's loads of the remote bits after this store (a free ORs its bit, then loads the flag).
     */
    void clearPending() {
        pending = false;
        VarHandle.fullFence();
    }

    /** Marks the page as on a stack; false when it is on one already (then it is not pushed again). */
    boolean claimStack() {
        return !onStack && ON_STACK.compareAndSet(this, false, true);
    }

    /** The page has left its stack: a later free may push it again. */
    void leaveStack() {
        onStack = false;
    }

    boolean isPending() {
        return pending;
    }

    /**
     * Folds the remote frees into {@code dirty}; by the owner, or by the thread that holds the page {@link #BUSY}.
     * A block found freed both ways (two frees raced) stays free once, and is counted in {@link #raced} and
     * {@link #racedBytes}.
     *
     * @return the address of the first block whose frees raced, or 0
     */
    long collectRemote() {
        long conflict = 0;
        for (int w = 0; w < words; w++) {
            if (remote[PAD + w] == 0) {
                continue;
            }
            long bits = (long) LONGS.getAndSet(remote, PAD + w, 0L);
            long both = bits & (dirty[w] | clean[w]);
            for (long b = both; b != 0; b &= b - 1) {
                int index = (w << 6) | Long.numberOfTrailingZeros(b);
                if (conflict == 0) {
                    conflict = base + (long) index * blockSize;
                }
                raced++;
                racedBytes += requested(index);
            }
            dirty[w] |= bits & ~both;
            int collected = Long.bitCount(bits & ~both);
            used -= collected;
            collectedRemote += collected;
            if (w < dirtyCursor) {
                dirtyCursor = w;
            }
        }
        return conflict;
    }

    /** The owner's frees here: every block handed out is in use, came back remotely, or was freed by the owner. */
    long frees() {
        return allocations - used - collectedRemote;
    }

    boolean isFull() {
        return used == capacity;
    }

    int state() {
        return state;
    }

    void setState(int newState) {
        state = newState;
    }

    boolean changeState(int from, int to) {
        return STATE.compareAndSet(this, from, to);
    }

    /** The number of free blocks for the owner, and the check that the bitmaps agree with {@link #used}. */
    String inconsistency() {
        int freeBits = 0;
        int remoteBits = 0;
        for (int w = 0; w < words; w++) {
            freeBits += Long.bitCount(dirty[w] | clean[w]);
            remoteBits += Long.bitCount(remote[PAD + w]);
            if ((dirty[w] & clean[w]) != 0) {
                return "a block is both dirty and clean";
            }
            if (((dirty[w] | clean[w]) & remote[PAD + w]) != 0) {
                return "a block is both free and freed remotely";
            }
        }
        if (used != capacity - freeBits) {
            return "it counts " + used + " blocks used, but its bitmap has " + (capacity - freeBits);
        }
        return remoteBits > used ? "more remote frees than used blocks" : null;
    }

    @Override
    public String toString() {
        return "page 0x" + Long.toHexString(base) + " of " + capacity + " blocks of " + blockSize + " bytes";
    }
}
