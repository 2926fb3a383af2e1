package io.memalloc.internal.heap;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Which {@link ThreadHeap} is the calling thread's, and what happens to it when the thread ends.
 *
 * <pre>
 *  platform thread ──> slots[id % 256] (its own heap?) ──no──> ThreadLocal ──none──> a new heap, registered
 *                      (the heap in a slot keeps its current pages in the slot's part of currents[], where the
 *                      allocation finds them without the heap)
 *  virtual thread  ──> one of the shared heaps, claimed by CAS for one operation (millions of virtual threads
 *                      must not keep pages each); one that finds them all claimed yields its carrier
 *  a thread ended  ──> found by the reaper (every {@value #REAP_INTERVAL_MILLIS} ms, and by trim and each new
 *                      heap): its pages are abandoned or released
 * </pre>
 *
 * <p>Java has no hook for a thread's end; a platform thread's {@link Thread#isAlive} turning false happens after
 * its last action, so the reaper may then take its heap over with plain loads and stores.
 */
final class ThreadHeaps {
    static final long REAP_INTERVAL_MILLIS = 100;
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");
    private static final int SLOTS = 256;
    /** How often {@link #claimShared} yields before it parks; and for how long it parks then. */
    private static final int CLAIM_YIELDS = 4;
    private static final long CLAIM_PARK_NANOS = 20_000;
    /** Entries of {@link #currents} a slot has: at least {@link SizeClasses#COUNT}, a power of two. */
    private static final int SLOT_SHIFT = 5;
    /** Every engine whose dead threads the reaper looks for; weak, so that an allocator never closed can go. */
    private static final List<WeakReference<ThreadHeaps>> WATCHED = new CopyOnWriteArrayList<>();
    private static Thread reaper;

    /** A platform thread's heap, at the thread's {@link #slot}, unless another thread's took it first. */
    private final ThreadHeap[] slots = new ThreadHeap[SLOTS];
    /** The current pages of the heaps in {@link #slots}: the heap in slot s keeps class c's at {@link #currentIndex}. */
    final Page[] currents = new Page[SLOTS << SLOT_SHIFT];
    private final ThreadLocal<ThreadHeap> local = ThreadLocal.withInitial(this::register);
    private final ThreadHeap[] shared;
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * Held while the heaps of ended threads are abandoned: their pages go back and their regions are unmapped in
     * steps that a statistic or a verification must not see halfway ({@link #excludingReaper}).
     */
    private final ReentrantLock reaping = new ReentrantLock();
    /** The heaps of live platform threads, and of ended ones not reaped yet. Guarded by {@link #lock}. */
    private final List<ThreadHeap> platform = new ArrayList<>();
    private final Consumer<ThreadHeap> abandon;
    private final WeakReference<ThreadHeaps> watched = new WeakReference<>(this);

    /** @param abandon what to do with the heap of a thread that ended: called without {@link #lock} held */
    ThreadHeaps(int sharedHeaps, Consumer<ThreadHeap> abandon) {
        this.abandon = abandon;
        this.shared = new ThreadHeap[sharedHeaps];
        for (int i = 0; i < sharedHeaps; i++) {
            shared[i] = new ThreadHeap(null);
        }
        watch(watched);
    }

    /** Where in {@link #currents} the heap in {@code thread}'s slot keeps its current page of {@code sizeClass}. */
    static int currentIndex(Thread thread, int sizeClass) {
        return (slot(thread) << SLOT_SHIFT) + sizeClass;
    }

    /** The calling platform thread's heap, made on first use; null for a virtual thread. */
    ThreadHeap ofPlatformThread() {
        Thread thread = Thread.currentThread();
        ThreadHeap heap = existing();
        if (heap != null) {
            return heap;
        }
        return thread.isVirtual() ? null : local.get();
    }

    /** The calling thread's heap if it has one: a thread that only frees gets none, and so keeps no page. */
    ThreadHeap existing() {
        Thread thread = Thread.currentThread();
        ThreadHeap heap = slots[slot(thread)];
        return heap != null && heap.thread == thread ? heap : null;
    }

    /**
     * Claims a shared heap for the calling virtual thread's operation; the caller unclaims it. A holder may be parked
     * (on the page lock, or in a mapping's system call), so a thread that finds every heap claimed must let its
     * carrier go rather than spin: spinning on every carrier would keep the parked holder from ever running again.
     * It yields a few times, then parks for {@value #CLAIM_PARK_NANOS} ns at a time: a yield puts the thread back on
     * its carrier's own queue, ahead of a holder that a platform thread unparked (queued from outside the pool), so
     * yields alone could keep that holder waiting for good (ThreadsFootprint hung so, one run in a few).
     */
    @SuppressWarnings("ThreadPriorityCheck") // a virtual thread's yield gives its carrier to another: needed
    ThreadHeap claimShared() {
        int start = (int) Thread.currentThread().threadId();
        for (int round = 0; ; round++) {
            for (int i = 0; i < shared.length; i++) {
                ThreadHeap heap = shared[(start + i) & (shared.length - 1)];
                if (heap.tryClaim()) {
                    return heap;
                }
            }
            if (round < CLAIM_YIELDS) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(CLAIM_PARK_NANOS);
            }
        }
    }


    /** The heaps virtual threads share, to be claimed before they are read. */
    ThreadHeap[] shared() {
        return shared;
    }

    private ThreadHeap register() {
        Thread thread = Thread.currentThread();
        reapDead(); // threads come and go (pools retire idle workers): a new one is the moment to look
        ThreadHeap heap;
        lock.lock();
        try {
            int slot = slot(thread);
            if (slots[slot] == null) { // a dead thread's heap keeps its slot until it has been abandoned
                heap = new ThreadHeap(thread, currents, slot << SLOT_SHIFT);
                slots[slot] = heap;
            } else {
                heap = new ThreadHeap(thread);
            }
            platform.add(heap);
        } finally {
            lock.unlock();
        }
        return heap;
    }

    private static int slot(Thread thread) {
        return (int) thread.threadId() & (SLOTS - 1);
    }

    /** Hands the heaps of ended threads to the abandon action. */
    void reapDead() {
        reaping.lock();
        try {
            reapDeadHeaps();
        } finally {
            reaping.unlock();
        }
    }

    /**
     * Runs {@code action} while no ended thread's heap is being abandoned: the reaper is a thread of the allocator's
     * own, which the caller of {@code stats()} or {@code verifyHeap()} cannot keep quiet.
     */
    <T> T excludingReaper(Supplier<T> action) {
        reaping.lock();
        try {
            return action.get();
        } finally {
            reaping.unlock();
        }
    }

    private void reapDeadHeaps() {
        List<ThreadHeap> dead = new ArrayList<>();
        lock.lock();
        try {
            for (int i = platform.size() - 1; i >= 0; i--) {
                ThreadHeap heap = platform.get(i);
                if (!heap.thread.isAlive()) { // after the thread's last store to its heap
                    platform.remove(i);
                    dead.add(heap);
                }
            }
        } finally {
            lock.unlock();
        }
        for (ThreadHeap heap : dead) {
            abandon.accept(heap);
        }
        // Only now: abandoning clears the heap's part of currents, which a new heap in the slot would then own.
        lock.lock();
        try {
            for (ThreadHeap heap : dead) {
                int slot = slot(heap.thread);
                if (slots[slot] == heap) {
                    slots[slot] = null;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** The heaps of live platform threads; their pages are theirs, not the caller's. */
    List<ThreadHeap> platform() {
        lock.lock();
        try {
            return new ArrayList<>(platform);
        } finally {
            lock.unlock();
        }
    }

    /** Stops looking for this engine's dead threads: its heap has closed. */
    void stopWatching() {
        WATCHED.remove(watched);
    }

    private static synchronized void watch(WeakReference<ThreadHeaps> heaps) {
        WATCHED.add(heaps);
        if (reaper == null) {
            reaper = Thread.ofPlatform().daemon().name("memalloc-reaper").start(ThreadHeaps::reapForever);
        }
    }

    private static void reapForever() {
        for (;;) {
            try {
                Thread.sleep(REAP_INTERVAL_MILLIS);
            } catch (InterruptedException e) {
                return; // nobody interrupts the reaper but a JVM on its way out
            }
            WATCHED.removeIf(ref -> ref.get() == null);
            for (WeakReference<ThreadHeaps> ref : WATCHED) { // a copy-on-write list: iterates a snapshot
                ThreadHeaps heaps = ref.get();
                if (heaps != null) {
                    try {
                        heaps.reapDead();
                    } catch (RuntimeException | Error e) { // the reaper must outlive one heap's failure
                        LOG.log(System.Logger.Level.WARNING, "MemAlloc: the pages of an ended thread were not"
                                + " given back", e);
                    }
                }
            }
        }
    }
}
