package io.memalloc.internal.heap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * The small-block pages one thread owns: for each size class the page it allocates from now, the other pages with
 * free blocks, and the stack where other threads leave the pages they freed into.
 *
 * <pre>
 *  class c:  current[at + c] ──> page (allocate: lowest free bit) withRoom[c]: pages with free blocks, next in line
 *  pages:    every page owned, whatever its class or fill         delayed:     pages other threads freed into
 * </pre>
 *
 * <p>Only the owner touches its fields, with plain loads and stores: a platform thread owns its own heap; the
 * heaps of virtual threads are a few shared ones, each owned for one operation at a time by the virtual thread that
 * {@link #tryClaim claimed} it (the claim's CAS orders one owner's stores before the next's loads). When the owning
 * platform thread has ended, {@link ThreadHeaps} hands the heap to {@link SmallBlocks#abandon}, after the thread's
 * last store.
 *
 * <p>What a heap hands out and takes back is counted in its pages ({@link Page#allocations}).
 */
final class ThreadHeap {
    private static final VarHandle CLAIMED;

    static {
        try {
            CLAIMED = MethodHandles.lookup().findVarHandle(ThreadHeap.class, "claimed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The platform thread that owns this heap; null for one of the heaps virtual threads share. */
    final Thread thread;
    /**
     * The current page of class {@code c} is {@code current[at + c]}: for a heap with a slot, the thread's part of
     * its engine's {@link ThreadHeaps#currents}, which the allocation reads without finding the heap first; else an
     * array of its own.
     */
    private final Page[] current;
    private final int at;
    private final List<List<Page>> withRoom = new ArrayList<>(SizeClasses.COUNT);
    /** Every page owned; a page's {@link Page#ownerIndex} is its index here. */
    private final List<Page> pages = new ArrayList<>();
    final PageStack delayed = new PageStack();
    /**
     * The one emptied page kept for the next allocation, or null; it may be in use again since, but it is always
     * the current page of its class.
     */
    Page kept;
    /** Set by a trim on another thread: the owner gives back its empty pages at its next slow path. */
    volatile boolean releaseRequested;
    @SuppressWarnings("unused") // through CLAIMED
    private volatile boolean claimed;

    /** A heap whose current pages are its own. */
    ThreadHeap(Thread thread) {
        this(thread, new Page[SizeClasses.COUNT], 0);
    }

    /** A heap whose current pages are {@code current[at]} to {@code current[at + SizeClasses.COUNT - 1]}. */
    ThreadHeap(Thread thread, Page[] current, int at) {
        this.thread = thread;
        this.current = current;
        this.at = at;
        for (int c = 0; c < SizeClasses.COUNT; c++) {
            withRoom.add(new ArrayList<>());
        }
    }

    /**
     * Allocates from the current page of {@code sizeClass}, a block that reads as zero when {@code zero}: 0 when
     * there is no current page, or it has no such block free.
     */
    long allocate(int sizeClass, long byteSize, boolean zero) {
        Page page = current[at + sizeClass];
        if (page == null) {
            return 0;
        }
        return zero ? page.allocateClean(byteSize) : page.allocateAny(byteSize);
    }

    /** Makes {@code page} the one its class allocates from; the one it replaces is no longer kept. */
    void makeCurrent(Page page) {
        if (kept != null && kept == current(page.sizeClass)) {
            unkeep();
        }
        current[at + page.sizeClass] = page;
    }

    /** The page class {@code sizeClass} allocates from, or null. */
    Page current(int sizeClass) {
        return current[at + sizeClass];
    }

    /** Keeps {@code page}, an emptied current page; returns the page kept before, which is no longer, or null. */
    Page keep(Page page) {
        Page before = kept == page ? null : kept;
        if (before != null) {
            before.kept = false;
        }
        kept = page;
        page.kept = true;
        return before;
    }

    private void unkeep() {
        kept.kept = false;
        kept = null;
    }

    void own(Page page) {
        page.ownerIndex = pages.size();
        pages.add(page);
    }

    void disown(Page page) {
        if (kept == page) {
            unkeep();
        }
        Page last = pages.remove(pages.size() - 1);
        if (last != page) {
            pages.set(page.ownerIndex, last);
            last.ownerIndex = page.ownerIndex;
        }
        if (current(page.sizeClass) == page) {
            current[at + page.sizeClass] = null;
        }
    }

    /** Lists a page that has free blocks again, to be allocated from once the current one is full. */
    void list(Page page) {
        if (!page.listed && current(page.sizeClass) != page) {
            page.listed = true;
            withRoom.get(page.sizeClass).add(page);
        }
    }

    /** The next listed page of {@code sizeClass} still owned here, or null. */
    Page nextListed(int sizeClass) {
        List<Page> listed = withRoom.get(sizeClass);
        while (!listed.isEmpty()) {
            Page page = listed.remove(listed.size() - 1);
            page.listed = false;
            if (page.state() == Page.OWNED && page.owner() == this && !page.isFull()) {
                return page;
            }
        }
        return null;
    }

    /** A copy of the pages owned. */
    List<Page> pages() {
        return new ArrayList<>(pages);
    }

    /** Forgets every page: they have been abandoned or released. */
    void clear() {
        if (kept != null) {
            unkeep();
        }
        pages.clear();
        for (int c = 0; c < SizeClasses.COUNT; c++) {
            current[at + c] = null;
            withRoom.get(c).clear();
        }
    }

    /** Claims a shared heap for one operation of a virtual thread; false when another holds it. */
    boolean tryClaim() {
        return !claimed && CLAIMED.compareAndSet(this, false, true);
    }

    void unclaim() {
        claimed = false;
    }
}
