package io.memalloc.internal.heap;

import io.memalloc.internal.event.FaultDetectedEvent;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The small-block engine: requests up to {@link SizeClasses#MAX_SIZE} bytes, served from pages that threads own
 * (mimalloc's design, on the JVM).
 *
 * <pre>
 *  allocate ──> the thread's current page of the class: a clean block (zeroed allocation), or a dirty then a
 *               clean one (uninitialized) ──(none)──> slow path:
 *                 0. zeroed, and the page has dirty blocks: zero a batch of them ({@link #zeroDirtyBlocks})
 *                 1. collect the pages other threads freed into (the thread heap's delayed stack)
 *                 2. a listed page of the class with free blocks
 *                 3. an abandoned page of the class (its thread ended), adopted
 *                 4. a fresh page from {@link PageRegions}
 *  free     ──> {@link PageMap} ──> page (of this heap?) ──> block index (no native memory read)
 *                 owner:  set the dirty bit (plain store)
 *                 other:  atomic OR of the remote bit; the first since the owner's last look pushes the page on
 *                         the owner's delayed stack, or, when the page is abandoned, collects it at once
 * </pre>
 *
 * <p>An emptied page goes back to its region at once, unless it is its thread's current page of its class: that
 * one is kept for the next allocation (a loop of allocate and free would otherwise take and give back a page each
 * time), one page a thread at most, except in a heap that keeps no empty region ({@code cachedRegions} 0), which
 * wants its memory back at once.
 * A page whose thread ended with blocks still live is abandoned: any thread's free may empty it, and a thread that
 * needs a page of its class adopts it.
 *
 * <p>Zeroing goes through {@code memory}, the segment over the address space that the allocator's users see: for
 * an allocator that closes, a segment of its scope, so that the close's handshake waits out a thread that is
 * zeroing, and a zeroing after the close throws rather than touches unmapped memory.
 */
final class SmallBlocks {
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");
    /**
     * The bytes of free dirty blocks a zeroed allocation zeroes at once when its page has no clean block left: as
     * much as stays in the first-level cache for the allocations that take them.
     */
    private static final long ZEROING_BATCH = 4096;

    private final String name;
    private final PageRegions regions;
    private final ThreadHeaps threads;
    /** {@link ThreadHeaps#currents}, kept here: the allocation's chain of loads is one shorter. */
    private final Page[] currents;
    private final MemorySegment memory;
    private final boolean keepEmptyPage;
    /** Unmaps a region its last page left; throws when the OS refuses (the mapping is then owed). */
    private final Consumer<PageRegion> unmap;
    /** The same for a call that must not fail for it (an allocation, the reaper): a refusal is logged. */
    private final Consumer<PageRegion> unmapOrWarn;
    private final List<Queue<Page>> abandoned = new ArrayList<>(SizeClasses.COUNT);
    private final LongAdder remoteFrees = new LongAdder();
    private final LongAdder remoteBytes = new LongAdder();
    private final AtomicBoolean closed = new AtomicBoolean();

    SmallBlocks(String name, PageRegions regions, MemorySegment memory, int sharedHeaps, boolean keepEmptyPage,
                Consumer<PageRegion> unmap, Consumer<PageRegion> unmapOrWarn) {
        this.name = name;
        this.regions = regions;
        this.memory = memory;
        this.keepEmptyPage = keepEmptyPage;
        this.unmap = unmap;
        this.unmapOrWarn = unmapOrWarn;
        for (int c = 0; c < SizeClasses.COUNT; c++) {
            abandoned.add(new ConcurrentLinkedQueue<>());
        }
        this.threads = new ThreadHeaps(sharedHeaps, this::abandon);
        this.currents = threads.currents;
    }

    /** The page of this engine that holds {@code address}, or null: no lock, no native memory read. */
    Page pageOf(long address) {
        Page page = PageMap.find(address);
        return page != null && page.regions == regions ? page : null;
    }

    /**
     * Allocates {@code byteSize} bytes of {@code sizeClass}.
     *
     * @throws OutOfMemoryError when a fresh page needs a mapping the heap cannot make
     */
    long allocate(int sizeClass, long byteSize, boolean zero) {
        // The thread's current page straight from its slot's part of the table, without its heap: a page the
        // thread does not own there (its slot is another thread's, or it is virtual) sends it the long way.
        Thread thread = Thread.currentThread();
        Page page = currents[ThreadHeaps.currentIndex(thread, sizeClass)];
        if (page != null && page.isOwnedBy(thread)) {
            long address = zero ? page.allocateClean(byteSize) : page.allocateAny(byteSize);
            if (address != 0) {
                return address;
            }
        }
        return allocateFromHeap(sizeClass, byteSize, zero);
    }

    /** {@link #allocate} once the thread's heap must be found: out of line, as the rest of the slow path. */
    private long allocateFromHeap(int sizeClass, long byteSize, boolean zero) {
        ThreadHeap heap = threads.ofPlatformThread();
        if (heap == null) {
            return allocateShared(sizeClass, byteSize, zero);
        }
        long address = heap.allocate(sizeClass, byteSize, zero);
        return address != 0 ? address : allocateSlow(heap, sizeClass, byteSize, zero);
    }

    /** A virtual thread's allocation: the same, on a shared heap claimed for it. */
    private long allocateShared(int sizeClass, long byteSize, boolean zero) {
        ThreadHeap heap = threads.claimShared();
        try {
            long address = heap.allocate(sizeClass, byteSize, zero);
            return address != 0 ? address : allocateSlow(heap, sizeClass, byteSize, zero);
        } finally {
            heap.unclaim();
        }
    }

    private void zero(long address, long byteSize) {
        memory.asSlice(address, byteSize).fill((byte) 0);
    }

    /**
     * Takes a block of {@code page}, or 0 when it has none free; for a zeroed allocation that finds no clean block,
     * zeroes free dirty blocks first ({@link #zeroDirtyBlocks}).
     */
    private long take(Page page, long byteSize, boolean zero) {
        if (page == null) {
            return 0;
        }
        if (!zero) {
            return page.allocateAny(byteSize);
        }
        long address = page.allocateClean(byteSize);
        if (address == 0 && zeroDirtyBlocks(page)) {
            address = page.allocateClean(byteSize);
        }
        return address;
    }

    /**
     * Zeroes free dirty blocks of {@code page}, from its first word that has some, up to {@link #ZEROING_BATCH}
     * bytes (whole runs of neighbours at a time), and makes them clean; the cost of zeroing, spread over the
     * allocations that follow, stays out of the fast path.
     *
     * @return false when no free block is dirty
     */
    private boolean zeroDirtyBlocks(Page page) {
        int w = page.dirtyWord();
        if (w < 0) {
            return false;
        }
        long bits = page.dirtyBits(w);
        long zeroed = 0;
        long bytes = 0;
        while (bits != 0 && bytes < ZEROING_BATCH) {
            int first = Long.numberOfTrailingZeros(bits);
            int run = Math.min(Long.numberOfTrailingZeros(~(bits >>> first)), 64 - first);
            long runBits = run == 64 ? -1L : ((1L << run) - 1) << first;
            zero(page.blockAt((w << 6) + first), (long) run * page.blockSize);
            bytes += (long) run * page.blockSize;
            zeroed |= runBits;
            bits &= ~runBits;
        }
        page.cleaned(w, zeroed);
        return true;
    }

    private long allocateSlow(ThreadHeap heap, int sizeClass, long byteSize, boolean zero) {
        Page current = heap.current(sizeClass);
        if (zero && current != null && zeroDirtyBlocks(current)) { // the common case: only the zeroing was due
            return current.allocateClean(byteSize);
        }
        if (closed.get()) {
            throw Heap.closedException();
        }
        List<PageRegion> emptied = new ArrayList<>();
        if (heap.releaseRequested) {
            heap.releaseRequested = false;
            releaseEmptyPages(heap, emptied);
        }
        collectDelayed(heap, emptied);
        emptied.forEach(unmapOrWarn); // the allocation must not fail for it
        long address = take(heap.current(sizeClass), byteSize, zero);
        if (address != 0) {
            return address;
        }
        Page page = heap.nextListed(sizeClass);
        if (page == null) {
            page = adopt(heap, sizeClass);
        }
        if (page == null) {
            page = regions.take(sizeClass, heap, byteSize);
            heap.own(page);
        }
        heap.makeCurrent(page);
        address = take(page, byteSize, zero);
        if (address == 0) {
            throw new IllegalStateException(page + " was to have a free block, and has none");
        }
        return address;
    }

    /**
     * Folds in the frees other threads made into the heap's pages since it last looked; adds the regions that
     * emptied to {@code emptied}, for the caller to unmap.
     */
    private void collectDelayed(ThreadHeap heap, List<PageRegion> emptied) {
        for (Page page = heap.delayed.takeAll(); page != null; ) {
            Page next = page.nextPending;
            page.nextPending = null;
            page.leaveStack();
            page.clearPending();
            if (page.state() == Page.OWNED && page.owner() == heap) {
                boolean wasFull = page.isFull();
                reportRace(page, page.collectRemote());
                if (page.used == 0) {
                    addIfNotNull(emptied, emptied(heap, page));
                } else if (wasFull) {
                    heap.list(page);
                }
            }
            page = next;
        }
    }

    /** Takes over a page whose thread ended, or null when the class has none to take. */
    private Page adopt(ThreadHeap heap, int sizeClass) {
        Queue<Page> queue = abandoned.get(sizeClass);
        for (Page page = queue.poll(); page != null; page = queue.poll()) {
            if (page.changeState(Page.ABANDONED, Page.BUSY)) {
                page.setOwner(heap);
                page.setState(Page.OWNED);
                page.clearPending(); // from here on, remote frees tell the new owner
                reportRace(page, page.collectRemote());
                heap.own(page);
                if (!page.isFull()) {
                    return page;
                }
            } else if (page.state() != Page.RELEASED) {
                queue.add(page); // another thread collects it: still abandoned, still to be adopted
                return null;
            }
        }
        return null;
    }

    /**
     * Frees the block at {@code address} of {@code page}.
     *
     * @throws IllegalArgumentException when it is not a live block: no block starts there, or it is free
     */
    void free(Page page, long address) {
        int index = page.indexOf(address);
        if (index < 0) {
            throw Heap.notLive(address);
        }
        if (!page.isOwnedByCurrentThread()) {
            freeRemote(page, index, address);
            return;
        }
        if (!page.freeLocal(index)) {
            throw Heap.notLive(address);
        }
        int used = page.used;
        if ((used == 0 || used == page.capacity - 1) && !page.kept) { // the kept page emptied: nothing to do
            afterOwnerFree(page.owner(), page);
        }
    }

    /** The owner's free emptied a page, or made room in a full one. Throws a refused unmap, once freed. */
    private void afterOwnerFree(ThreadHeap heap, Page page) {
        if (page.used == 0) {
            PageRegion empty = emptied(heap, page);
            if (empty != null) {
                unmap.accept(empty);
            }
        } else {
            heap.list(page);
        }
    }

    /**
     * A page of {@code heap} has no block in use: back to its region, unless it is the one to keep.
     *
     * @return the region that left the heap with it, for the caller to unmap, or null
     */
    private PageRegion emptied(ThreadHeap heap, Page page) {
        if (keepEmptyPage && heap.current(page.sizeClass) == page) {
            Page kept = heap.keep(page);
            if (kept == null || kept.used > 0) {
                return null;
            }
            page = kept; // one empty page kept is enough: the one kept before goes
        }
        heap.disown(page);
        return release(page);
    }

    /** Gives a page back to its region; returns the region when it left the heap, for the caller to unmap. */
    private PageRegion release(Page page) {
        page.setState(Page.RELEASED);
        return regions.release(page);
    }

    private static void addIfNotNull(List<PageRegion> regions, PageRegion region) {
        if (region != null) {
            regions.add(region);
        }
    }

    private void freeRemote(Page page, int index, long address) {
        long bytes = page.requested(index); // before the free: once freed, the owner may hand the block out again
        page.freeRemote(index, address);
        remoteFrees.increment();
        remoteBytes.add(bytes);
        if (page.claimTelling()) {
            ThreadHeap owner = page.owner();
            if (owner == null || !owner.delayed.push(page)) {
                PageRegion empty = collectAbandoned(page);
                if (empty != null) {
                    unmap.accept(empty); // the free is done: now it may throw
                }
            }
        }
    }

    /**
     * Collects the remote frees of an abandoned page, and gives it back when that empties it. A page another thread
     * holds meanwhile is left to it: that thread looks at the pending flag again when it lets go.
     *
     * @return the region that left the heap with the page, for the caller to unmap, or null
     */
    private PageRegion collectAbandoned(Page page) {
        while (page.changeState(Page.ABANDONED, Page.BUSY)) {
            page.clearPending();
            reportRace(page, page.collectRemote());
            if (page.used == 0) {
                abandoned.get(page.sizeClass).remove(page);
                return release(page);
            }
            page.setState(Page.ABANDONED);
            if (!page.isPending()) {
                return null;
            }
        }
        return null;
    }

    /** Takes the pages of a thread that ended: each is given back if empty, else abandoned to the others. */
    void abandon(ThreadHeap heap) {
        for (Page page = heap.delayed.close(); page != null; ) {
            Page next = page.nextPending;
            page.nextPending = null;
            page.leaveStack();
            page = next;
        }
        List<Page> pages = heap.pages();
        heap.clear(); // the kept mark goes before any page is another thread's to adopt
        for (Page page : pages) {
            if (!page.changeState(Page.OWNED, Page.BUSY)) {
                continue;
            }
            page.listed = false;
            page.setOwner(null);
            page.clearPending();
            reportRace(page, page.collectRemote());
            PageRegion empty;
            if (page.used == 0) {
                empty = release(page);
            } else {
                page.setState(Page.ABANDONED);
                abandoned.get(page.sizeClass).add(page);
                empty = page.isPending() ? collectAbandoned(page) : null;
            }
            if (empty != null) {
                unmapOrWarn.accept(empty); // nobody is there to throw it to
            }
        }
    }

    /** Gives back the heap's empty pages, kept ones included; owner only. Adds the regions that emptied. */
    private void releaseEmptyPages(ThreadHeap heap, List<PageRegion> emptied) {
        collectDelayed(heap, emptied);
        for (Page page : heap.pages()) {
            if (page.used == 0) {
                heap.disown(page);
                addIfNotNull(emptied, release(page));
            }
        }
    }

    /**
     * Two frees of one block raced (the owner's and another thread's): the block stays free once, the second free
     * is uncounted, and the race is reported.
     */
    private void reportRace(Page page, long address) {
        if (address != 0) {
            remoteFrees.add(-page.raced);
            remoteBytes.add(-page.racedBytes);
            page.raced = 0;
            page.racedBytes = 0;
            IllegalArgumentException fault = new IllegalArgumentException("0x" + Long.toHexString(address)
                    + " was freed twice at once, by two threads; it is free once");
            FaultDetectedEvent.detected(name, "free", address, fault);
            LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + name + "': " + fault.getMessage());
        }
    }

    /**
     * Gives back what trim can reach: the pages of ended threads, the calling thread's empty pages, and the regions
     * left with no page; asks every other thread to give back its empty pages at its next slow path.
     *
     * @return the regions to unmap
     */
    List<PageRegion> trim() {
        threads.reapDead();
        List<PageRegion> emptied = new ArrayList<>();
        ThreadHeap own = threads.existing();
        if (own != null) {
            releaseEmptyPages(own, emptied);
        }
        for (ThreadHeap heap : threads.platform()) {
            if (heap != own) {
                heap.releaseRequested = true;
            }
        }
        for (ThreadHeap heap : threads.shared()) {
            if (heap.tryClaim()) {
                try {
                    releaseEmptyPages(heap, emptied);
                } finally {
                    heap.unclaim();
                }
            }
        }
        emptied.addAll(regions.detachEmpty());
        return emptied;
    }

    /** Stops the engine: later slow paths throw; the caller unmaps {@link PageRegions#detachAll}. */
    void close() {
        closed.set(true);
        threads.stopWatching();
    }

    /** {@link ThreadHeaps#excludingReaper}. */
    <T> T excludingReaper(Supplier<T> action) {
        return threads.excludingReaper(action);
    }

    /** {allocations, frees, allocated bytes}, the user's view. */
    long[] totals() {
        long[] totals = regions.totals();
        totals[1] += remoteFrees.sum();
        totals[2] -= remoteBytes.sum();
        return totals;
    }

    /** Checks that a live block starts at {@code address} of {@code page}; a hint on another thread than the owner. */
    private static Page livePage(Page page, long address) {
        int index = page.indexOf(address);
        if (index < 0 || !page.isLive(index)) {
            throw Heap.notLive(address);
        }
        return page;
    }

    /**
     * The alignment to keep for the live block at {@code address}: the largest power of two that divides its size,
     * at most the largest a small request can ask for; at least what it was asked for.
     *
     * @throws IllegalArgumentException when it is not a live block
     */
    long alignmentOf(Page page, long address) {
        int blockSize = livePage(page, address).blockSize;
        return Math.min(blockSize & -blockSize, SizeClasses.MAX_ALIGNMENT); // no small request asked for more
    }

    /** The bytes asked for by the live block at {@code address}. */
    long byteSize(Page page, long address) {
        livePage(page, address);
        return page.requested(page.indexOf(address));
    }

    /**
     * Resizes the live block at {@code address} to {@code newByteSize} bytes when that keeps its class
     * ({@code sizeClass}, the class of the new size at the block's alignment), zeroing the bytes it gains.
     *
     * @return false when the block must move
     */
    boolean resizeInPlace(Page page, long address, long newByteSize, int sizeClass) {
        livePage(page, address);
        if (sizeClass != page.sizeClass) {
            return false;
        }
        int index = page.indexOf(address);
        long oldByteSize = page.requested(index);
        if (newByteSize > oldByteSize) {
            zero(address + oldByteSize, newByteSize - oldByteSize);
        }
        page.resize(index, newByteSize);
        remoteBytes.add(oldByteSize - newByteSize); // any thread may resize: counted as remote frees are
        return true;
    }

    /** Copies into a small block, through the users' segment, as zeroing does. */
    void copy(long from, long to, long byteSize) {
        MemorySegment.copy(memory, from, memory, to, byteSize);
    }

    PageRegions regions() {
        return regions;
    }
}
