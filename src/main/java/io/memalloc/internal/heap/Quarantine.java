package io.memalloc.internal.heap;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Blocks a hardened heap's user freed, held back for a while before they go back to their stripes, so that a double
 * free is refused even after unrelated traffic, and a use after free finds poison rather than another block.
 *
 * <pre>
 *  free(p):  claim p -> check canary -> poison -> [ oldest ... newest, p ]  -> evicted: back to their stripes
 *                                               at most MAX_BLOCKS blocks and MAX_BYTES bytes
 * </pre>
 *
 * <p>A block here stays live and claimed ({@link Region}: "being freed"), exactly as one in a thread cache: a free
 * of it now fails its claim and is refused as a double free. Its stripe still counts it as allocated; the heap's
 * statistics take the quarantine's {@link #bytes} and {@link #count} off, so that users see it freed.
 */
final class Quarantine {
    static final int MAX_BLOCKS = 1024;
    static final long MAX_BYTES = 4L * 1024 * 1024;

    /** A block in quarantine: its region, payload, and the bytes its user had asked for. */
    record Entry(Region region, long payload, long byteSize) {}

    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long bytes;

    /**
     * Holds a freed block (claimed, poisoned).
     *
     * @return the blocks pushed out, oldest first, for the caller to give back to their stripes
     */
    List<Entry> add(Region region, long payload, long byteSize) {
        List<Entry> evicted = List.of();
        lock.lock();
        try {
            entries.addLast(new Entry(region, payload, byteSize));
            bytes += byteSize;
            while (entries.size() > MAX_BLOCKS || (bytes > MAX_BYTES && entries.size() > 1)) {
                if (evicted.isEmpty()) {
                    evicted = new ArrayList<>();
                }
                Entry oldest = entries.removeFirst();
                bytes -= oldest.byteSize();
                evicted.add(oldest);
            }
        } finally {
            lock.unlock();
        }
        return evicted;
    }

    /** Takes every block out, for {@code trim()}. */
    List<Entry> takeAll() {
        lock.lock();
        try {
            List<Entry> all = new ArrayList<>(entries);
            entries.clear();
            bytes = 0;
            return all;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes asked for by the blocks held. */
    long bytes() {
        lock.lock();
        try {
            return bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Blocks held. */
    int count() {
        lock.lock();
        try {
            return entries.size();
        } finally {
            lock.unlock();
        }
    }
}
