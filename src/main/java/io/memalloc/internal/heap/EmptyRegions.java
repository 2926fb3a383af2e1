package io.memalloc.internal.heap;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many regions of a heap hold no live block, and how many of those it keeps mapped.
 *
 * <p>Unmapping a region the moment it empties makes a program that allocates and frees one block in a loop map and
 * unmap a region every time (the Rust original did). Instead a heap keeps up to {@code limit} empty regions, across
 * all its stripes, ready for reuse; a region that empties beyond that is unmapped. {@link Heap#trim} unmaps them all.
 * The count is shared by the stripes, so it is an atomic rather than a field under one stripe's lock.
 */
final class EmptyRegions {
    private final int limit;
    private final AtomicInteger count = new AtomicInteger();

    EmptyRegions(int limit) {
        this.limit = limit;
    }

    /** A region just emptied: counts it and returns true if the heap keeps it, else returns false. */
    boolean tryKeep() {
        for (int c = count.get(); c < limit; c = count.get()) {
            if (count.compareAndSet(c, c + 1)) {
                return true;
            }
        }
        return false;
    }

    /** A fresh region was added: it is empty until its first block is taken a moment later. */
    void added() {
        count.incrementAndGet();
    }

    /** An empty region got a live block, or left the heap. */
    void leave() {
        count.decrementAndGet();
    }

    int count() {
        return count.get();
    }

    int limit() {
        return limit;
    }
}
