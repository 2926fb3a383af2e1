package io.memalloc.internal.heap;

import io.memalloc.internal.heap.LargeBlocks.LargeBlock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Mappings of large blocks freed lately, kept mapped for the next large request that fits one, so that a loop of
 * large allocate and free makes no system call once it runs.
 *
 * <pre>
 *  slots (maxCount of them)
 *  +--------------+--------------+------+--------------+
 *  | 4 MiB, age 7 | 16 MiB, age 9| null | 1 MiB, age 8 |     each slot: a spare, or null
 *  +--------------+--------------+------+--------------+
 *  free(large)  --&gt; keep: into an empty slot; over the bounds, the oldest others are unmapped
 *  allocate(n)  &lt;-- take: the smallest that holds n and wastes at most half of itself, aligned as asked
 * </pre>
 *
 * <p>Without a lock: taking and keeping are one compare-and-set of a slot each, and the slot a thread empties with
 * its CAS is its alone, so that two threads never both take, or both unmap, one mapping. The bounds (at most
 * {@code maxCount} spares and {@code maxBytes} bytes) hold once every keep has returned; while two keeps race, one
 * of them may be over them for the moment it takes to evict. A keep that races {@link #takeAll} with {@code close}
 * takes its spare back out and returns it for unmapping, unless {@code takeAll} took it, so that nothing stays
 * mapped after close.
 *
 * <p>Only requests that need not be zeroed take a spare: its old content is still there, and zeroing megabytes costs
 * more than mapping them afresh (the OS hands out zero pages as they are touched). Spares stay mapped and counted in
 * the heap's mapped bytes; {@link Heap#trim} and {@link Heap#close} unmap them all.
 */
final class SpareMappings {
    private final AtomicReferenceArray<LargeBlock> slots;
    private final long maxBytes;
    /** Ages for spares kept: a plain counter, since an age that two threads share only makes a tie. */
    private long nextAge;
    private volatile boolean closed;

    SpareMappings(int maxCount, long maxBytes) {
        this.slots = new AtomicReferenceArray<>(maxCount);
        this.maxBytes = maxBytes;
    }

    /**
     * Takes out the smallest spare of at least {@code mappingSize} bytes, at most twice that, aligned to
     * {@code alignment}; null when there is none.
     */
    LargeBlock take(long mappingSize, long alignment) {
        while (true) {
            int best = -1;
            LargeBlock bestSpare = null;
            for (int i = 0; i < slots.length(); i++) {
                LargeBlock spare = slots.get(i);
                if (spare != null && spare.mappingSize() >= mappingSize && spare.mappingSize() / 2 <= mappingSize
                        && (spare.address() & (alignment - 1)) == 0
                        && (bestSpare == null || spare.mappingSize() < bestSpare.mappingSize())) {
                    best = i;
                    bestSpare = spare;
                }
            }
            if (bestSpare == null || slots.compareAndSet(best, bestSpare, null)) {
                return bestSpare;
            }
            // Another thread took it, or its slot changed: look again.
        }
    }

    /**
     * Keeps {@code spare}, and returns what the caller must unmap: the oldest spares beyond the bounds, or
     * {@code spare} itself when it alone is over them or the heap is closed.
     */
    List<LargeBlock> keep(LargeBlock spare) {
        if (closed || spare.mappingSize() > maxBytes || slots.length() == 0) {
            return List.of(spare);
        }
        spare.keptAt(nextAge++);
        int kept = -1;
        List<LargeBlock> evicted = List.of();
        while (kept < 0) {
            int oldest = -1;
            LargeBlock oldestSpare = null;
            for (int i = 0; i < slots.length() && kept < 0; i++) {
                LargeBlock other = slots.get(i);
                if (other == null) {
                    if (slots.compareAndSet(i, null, spare)) {
                        kept = i;
                    }
                } else if (oldestSpare == null || other.keptAt() < oldestSpare.keptAt()) {
                    oldest = i;
                    oldestSpare = other;
                }
            }
            if (kept < 0 && oldestSpare != null && slots.compareAndSet(oldest, oldestSpare, spare)) {
                kept = oldest;
                evicted = new ArrayList<>(evicted);
                evicted.add(oldestSpare);
            }
        }
        evicted = evictOverBytes(kept, evicted);
        if (closed && slots.compareAndSet(kept, spare, null)) { // takeAll(close) may have swept before we kept it
            evicted = new ArrayList<>(evicted);
            evicted.add(spare);
        }
        return evicted;
    }

    /** Takes the oldest spares other than the one in slot {@code kept} out while the spares hold too many bytes. */
    private List<LargeBlock> evictOverBytes(int kept, List<LargeBlock> evicted) {
        List<LargeBlock> all = evicted;
        while (bytes() > maxBytes) {
            int oldest = -1;
            LargeBlock oldestSpare = null;
            for (int i = 0; i < slots.length(); i++) {
                LargeBlock other = slots.get(i);
                if (i != kept && other != null && (oldestSpare == null || other.keptAt() < oldestSpare.keptAt())) {
                    oldest = i;
                    oldestSpare = other;
                }
            }
            if (oldestSpare == null) {
                break; // the one kept is within maxBytes alone; another keep is making room for its own
            }
            if (slots.compareAndSet(oldest, oldestSpare, null)) {
                all = new ArrayList<>(all);
                all.add(oldestSpare);
            }
        }
        return all;
    }

    /** Takes every spare out, for the caller to unmap; when {@code close}, keeps none from now on. */
    List<LargeBlock> takeAll(boolean close) {
        if (close) {
            closed = true;
        }
        List<LargeBlock> all = new ArrayList<>();
        for (int i = 0; i < slots.length(); i++) {
            LargeBlock spare = slots.getAndSet(i, null);
            if (spare != null) {
                all.add(spare);
            }
        }
        return all;
    }

    /** Bytes kept mapped now. */
    long bytes() {
        long bytes = 0;
        for (int i = 0; i < slots.length(); i++) {
            LargeBlock spare = slots.get(i);
            if (spare != null) {
                bytes += spare.mappingSize();
            }
        }
        return bytes;
    }
}
