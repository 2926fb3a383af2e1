package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The blocks too big for a region: each is a mapping of its own, with no header, found by its address.
 *
 * <pre>
 *  address (aligned as asked)                           address + mappingSize
 *  +---------------------------------------+-----------+
 *  | payload: byteSize bytes               | unused    |   mappingSize: byteSize rounded up to the
 *  +---------------------------------------+-----------+   OS granularity (page, or 64 KiB on Windows)
 *
 *  with guard pages (HeapConfig.guardPages):
 *  +---------------------------------------+-----------+------------+
 *  | payload: byteSize bytes (+ canary)    | unused    | guard page |   the last page of the mapping, no access:
 *  +---------------------------------------+-----------+------------+   a runaway write faults there
 * </pre>
 *
 * <p>The registry is a concurrent map, so that a free is one atomic {@code remove}: two threads freeing the same
 * block cannot both unmap it, and an address that is not here is refused without touching memory. The bytes
 * allocated are summed over the map when asked for rather than counted by every allocate and free (an atomic
 * addition each), so a block claimed for a resize or a move drops out of the sum for that moment.
 */
final class LargeBlocks {
    /**
     * One large block.
     *
     * @param address     where the mapping and the payload start
     * @param mappingSize bytes mapped
     * @param byteSize    bytes asked for
     * @param alignment   alignment asked for; reallocate keeps it
     * @param dirtyEnd    bytes from {@code address} that were ever handed out: beyond them the mapping is zero
     */
    record LargeBlock(long address, long mappingSize, long byteSize, long alignment, long dirtyEnd) {
        /** @param tail bytes written past the request: a hardened heap's canary */
        LargeBlock resized(long newByteSize, long tail) {
            return new LargeBlock(address, mappingSize, newByteSize, alignment,
                    Math.max(dirtyEnd, newByteSize + tail));
        }
    }

    private final ConcurrentHashMap<Long, LargeBlock> blocks = new ConcurrentHashMap<>();
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();

    void add(LargeBlock block) {
        blocks.put(block.address(), block);
        allocations.incrementAndGet();
    }

    /** Takes the block at {@code address} out, or returns null when there is none: the caller unmaps it. */
    LargeBlock remove(long address) {
        LargeBlock block = claim(address);
        if (block != null) {
            freeClaimed();
        }
        return block;
    }

    /**
     * Takes the block at {@code address} out for a moment, to resize or move it, with the counters unchanged; then
     * either {@link #putBack} or {@link #freeClaimed}. Null when there is no such block.
     */
    LargeBlock claim(long address) {
        return blocks.remove(address);
    }

    /** Puts back a claimed block, resized or not. */
    void putBack(LargeBlock block) {
        blocks.put(block.address(), block);
    }

    /** Counts a claimed block as freed: the caller unmaps it. */
    void freeClaimed() {
        frees.incrementAndGet();
    }

    /** Takes every block out, for the caller to unmap: the heap is closing. */
    List<LargeBlock> removeAll() {
        List<LargeBlock> all = new ArrayList<>();
        for (Long address : new ArrayList<>(blocks.keySet())) {
            LargeBlock block = remove(address);
            if (block != null) {
                all.add(block);
            }
        }
        return all;
    }

    boolean contains(long address) {
        return blocks.containsKey(address);
    }

    List<LargeBlock> all() {
        return new ArrayList<>(blocks.values());
    }

    int count() {
        return blocks.size();
    }

    long allocatedBytes() {
        long bytes = 0;
        for (LargeBlock block : blocks.values()) {
            bytes += block.byteSize();
        }
        return bytes;
    }


    long allocations() {
        return allocations.get();
    }

    long frees() {
        return frees.get();
    }
}
