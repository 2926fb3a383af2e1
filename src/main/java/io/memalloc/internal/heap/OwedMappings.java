package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.List;

/**
 * Mappings the heap no longer uses but the OS refused to take back: an unmap ({@code munmap}, {@code VirtualFree})
 * failed.
 *
 * <p>A mapping is never forgotten while the OS holds it: these stay counted in the heap's mapped bytes, and against
 * its {@code maxMappedBytes}, and {@link Heap#trim}, {@link Heap#close} and a request that meets the cap try again
 * to give them back. Their memory is never handed out again: the heap let go of it, and what the failed call did to
 * it is unknown.
 */
final class OwedMappings {
    /** @param stripe as for the unmap event: the region's stripe, or -1 for a large block's own mapping */
    record Owed(long address, long byteSize, int stripe) {}

    private final List<Owed> owed = new ArrayList<>();

    synchronized void add(Owed mapping) {
        owed.add(mapping);
    }

    /** Takes every one out, for the caller to try again; those refused again come back through {@link #add}. */
    synchronized List<Owed> takeAll() {
        List<Owed> all = new ArrayList<>(owed);
        owed.clear();
        return all;
    }

    synchronized List<Owed> all() {
        return new ArrayList<>(owed);
    }

    synchronized int count() {
        return owed.size();
    }

    synchronized long bytes() {
        long bytes = 0;
        for (Owed mapping : owed) {
            bytes += mapping.byteSize();
        }
        return bytes;
    }
}
