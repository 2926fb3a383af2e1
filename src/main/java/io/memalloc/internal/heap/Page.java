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
 *  Java:    free    1 bit a block, set while the block is the owner's to hand out   owner only, plain
 *           remote  1 bit a block, set by another thread's free, until collected    any thread, atomic OR
 *           slack   1 byte a block: its size minus the bytes asked for              for statistics
 * </pre>
 *
 * <p>The owner allocates by taking the lowest set bit of {@code free} and frees by setting it again: plain loads
 * and stores, no lock, no atomic. Another thread frees by setting the block's bit in {@code remote} with one atomic
 * OR, and tells the owner once ({@link #pending}, then a push on the owner's {@link PageStack}); the owner folds the
 * remote bits into {@code free} ({@link #collectRemote}) when its page runs dry, as mimalloc's thread-free list.
 * A block is live when neither bit is set, so a second free of it is refused wherever it comes from, and when two
 * frees of one block race on two threads, the one bit each sets keeps the block from being handed out twice.
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
    final int slot;
    final long base;
    final int sizeClass;
    final int blockSize;
    final int capacity;
    /** {@code ceil(2^32 / blockSize)}: the index of a block is {@code (offset * reciprocal) >>> 32}, no division. */
    private final long reciprocal;
    private final long[] free;
    /**
     * Its words at {@link #PAD} and after: other threads write them, so they keep a cache line away from what the
     * owner writes (the arrays of a page are allocated side by side).
     */
    private final long[] remote;
    private final byte[] slack;
    /** Blocks not free for the owner: in users' hands, or freed by another thread and not collected yet. */
    int used;
    /** No word of {@code free} below this one has a bit set. */
    private int cursor;
    /** No block at or above this index has been handed out since the memory was last zero. */
    private int fresh;
    /** Whether the block taken last lies below {@link #fresh}, so that zeroing it is up to the caller. */
    private boolean lastDirty;
    /** Whether the owner keeps this page in its list of pages with free blocks. */
    boolean listed;
    /** Whether this is the emptied page its owner keeps for the next allocation ({@link ThreadHeap#kept}). */
    boolean kept;
    /** The owner's counts of what it handed out and took back here; remote frees are counted apart. */
    long allocations;
    long frees;
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
        this.slot = slot;
        this.base = region.base + ((long) slot << SHIFT);
        this.sizeClass = sizeClass;
        this.blockSize = SizeClasses.size(sizeClass);
        this.capacity = (int) (SIZE / blockSize);
        this.reciprocal = (1L << 32) / blockSize + 1;
        int words = (capacity + 63) >>> 6;
        this.free = new long[words];
        this.remote = new long[words + 2 * PAD];
        this.slack = new byte[capacity];
        for (int w = 0; w < words; w++) {
            int bits = Math.min(64, capacity - (w << 6));
            free[w] = bits == 64 ? -1L : (1L << bits) - 1;
        }
        this.fresh = zeroed ? 0 : capacity;
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

    /**
     * Takes a free block for a request of {@code byteSize} bytes (at most {@link #blockSize}); owner only.
     *
     * @return the block's address, or 0 when the owner has no free block here (remote frees may be waiting)
     */
    long allocate(long byteSize) {
        int w = cursor;
        long bits = w < free.length ? free[w] : 0;
        if (bits == 0) {
            return allocateFurther(byteSize); // out of line: the loop would make every caller's code bigger
        }
        free[w] = bits & (bits - 1);
        return taken((w << 6) | Long.numberOfTrailingZeros(bits), byteSize);
    }

    /** {@link #allocate} when the cursor's word has no free block: looks in the words after it. */
    private long allocateFurther(long byteSize) {
        for (int w = cursor + 1; w < free.length; w++) {
            long bits = free[w];
            if (bits != 0) {
                free[w] = bits & (bits - 1);
                cursor = w;
                return taken((w << 6) | Long.numberOfTrailingZeros(bits), byteSize);
            }
        }
        cursor = free.length;
        return 0;
    }

    private long taken(int index, long byteSize) {
        slack[index] = (byte) (blockSize - byteSize);
        used++;
        allocations++;
        allocatedBytes += byteSize;
        lastDirty = index < fresh;
        if (!lastDirty) {
            fresh = index + 1;
        }
        return base + (long) index * blockSize;
    }

    /** Whether the block {@link #allocate} took last may hold bytes other than zero. */
    boolean wasDirty() {
        return lastDirty;
    }

    /**
     * The index of the block that starts at {@code address}, or -1 when no block of this page starts there. Reads
     * no native memory.
     */
    int indexOf(long address) {
        long offset = address - base;
        int index = (int) ((offset * reciprocal) >>> 32);
        long mismatch = (long) index * blockSize - offset;
        // The sign bit is set when the offset is outside the page, the index past the last block, or the offset
        // not at a block's start: one test instead of four branches, each of which costs the callers' code.
        long outside = offset | (SIZE - 1 - offset) | (capacity - 1L - index) | mismatch | -mismatch;
        return outside < 0 ? -1 : index;
    }

    /** Whether the block at {@code index} is in a user's hands; exact for the owner, a hint for other threads. */
    boolean isLive(int index) {
        long bit = 1L << index;
        return ((free[index >>> 6] | remote[PAD + (index >>> 6)]) & bit) == 0;
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
        long bits = free[w];
        if (((bits | remote[PAD + w]) & bit) != 0) {
            return false;
        }
        free[w] = bits | bit;
        cursor = Math.min(cursor, w);
        used--;
        frees++;
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
        long bit = 1L << index;
        if ((free[index >>> 6] & bit) != 0) {
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
     * Folds the remote frees into {@code free}; by the owner, or by the thread that holds the page {@link #BUSY}.
     * A block found freed both ways (two frees raced) stays free once, and is counted in {@link #raced} and
     * {@link #racedBytes}.
     *
     * @return the address of the first block whose frees raced, or 0
     */
    long collectRemote() {
        long conflict = 0;
        for (int w = 0; w < free.length; w++) {
            if (remote[PAD + w] == 0) {
                continue;
            }
            long bits = (long) LONGS.getAndSet(remote, PAD + w, 0L);
            long both = bits & free[w];
            for (long b = both; b != 0; b &= b - 1) {
                int index = (w << 6) | Long.numberOfTrailingZeros(b);
                if (conflict == 0) {
                    conflict = base + (long) index * blockSize;
                }
                raced++;
                racedBytes += requested(index);
            }
            free[w] |= bits;
            used -= Long.bitCount(bits & ~both);
            if (w < cursor) {
                cursor = w;
            }
        }
        return conflict;
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
        for (int w = 0; w < free.length; w++) {
            freeBits += Long.bitCount(free[w]);
            remoteBits += Long.bitCount(remote[PAD + w]);
            if ((free[w] & remote[PAD + w]) != 0) {
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
