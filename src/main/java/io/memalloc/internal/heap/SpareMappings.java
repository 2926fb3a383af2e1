package io.memalloc.internal.heap;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Mappings of large blocks freed lately, kept mapped for the next large request that fits one, so that a loop of
 * large allocate and free makes no system call once it runs.
 *
 * <pre>
 *  free(large)  --&gt; keep: newest first  [ 4 MiB | 16 MiB | 1 MiB ]  --&gt; over the bounds: the oldest is unmapped
 *  allocate(n)  &lt;-- take: the smallest that holds n and wastes at most half of itself, aligned as asked
 * </pre>
 *
 * <p>Only requests that need not be zeroed take a spare: its old content is still there, and zeroing megabytes costs
 * more than mapping them afresh (the OS hands out zero pages as they are touched). Spares stay mapped and counted in
 * the heap's mapped bytes; {@link Heap#trim} and {@link Heap#close} unmap them all.
 */
final class SpareMappings {
    /** A spare mapping: where, how big, and how far it was ever handed out (beyond that it is still zero). */
    record Spare(long address, long mappingSize, long dirtyEnd) {}

    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Spare> spares = new ArrayDeque<>();
    private final int maxCount;
    private final long maxBytes;
    private long bytes;
    private boolean closed;

    SpareMappings(int maxCount, long maxBytes) {
        this.maxCount = maxCount;
        this.maxBytes = maxBytes;
    }

    /** The smallest spare of at least {@code mappingSize} bytes, at most twice that, aligned to {@code alignment}. */
    Spare take(long mappingSize, long alignment) {
        lock.lock();
        try {
            Spare best = null;
            for (Spare spare : spares) {
                if (spare.mappingSize() >= mappingSize && spare.mappingSize() / 2 <= mappingSize
                        && (spare.address() & (alignment - 1)) == 0
                        && (best == null || spare.mappingSize() < best.mappingSize())) {
                    best = spare;
                }
            }
            if (best != null) {
                spares.remove(best);
                bytes -= best.mappingSize();
            }
            return best;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Keeps {@code spare}, and returns what the caller must unmap: the oldest spares beyond the bounds, or
     * {@code spare} itself when it alone is over them or the heap is closed.
     */
    List<Spare> keep(Spare spare) {
        List<Spare> evicted = new ArrayList<>();
        lock.lock();
        try {
            if (closed || spare.mappingSize() > maxBytes || maxCount == 0) {
                evicted.add(spare);
                return evicted;
            }
            spares.addFirst(spare);
            bytes += spare.mappingSize();
            while (spares.size() > maxCount || bytes > maxBytes) {
                Spare oldest = spares.removeLast();
                bytes -= oldest.mappingSize();
                evicted.add(oldest);
            }
            return evicted;
        } finally {
            lock.unlock();
        }
    }

    /** Takes every spare out, for the caller to unmap; when {@code close}, keeps none from now on. */
    List<Spare> takeAll(boolean close) {
        lock.lock();
        try {
            closed |= close;
            List<Spare> all = new ArrayList<>(spares);
            spares.clear();
            bytes = 0;
            return all;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes kept mapped: for {@link HeapVerifier}. */
    long bytes() {
        lock.lock();
        try {
            return bytes;
        } finally {
            lock.unlock();
        }
    }
}
