package io.memalloc.internal.heap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
 * <p>The registry is a concurrent map from address to {@link LargeBlock}, which holds every mapping of a large
 * block: in use, or kept as a spare ({@link SpareMappings}). An entry stays while its mapping is reused, so that a
 * loop of large allocate and free changes only the entry's state, never the map:
 * <pre>
 *            allocate (new mapping: put)                    free: CAS
 *   (none) ------------------------------&gt;  LIVE  ----------------------------&gt;  SPARE  --evicted, trimmed, closed:
 *                                          |  ^  &lt;---------------------------          remove, then unmap
 *                   reallocate, copy: CAS  v  |   allocate: taken from its slot
 *                                        CLAIMED
 * </pre>
 * A free or a reallocate changes the state with a CAS from LIVE, so that of two frees of one block only one goes on,
 * and an address that is not here, or not LIVE, is refused without touching memory. Whoever removes an entry from
 * the map unmaps its mapping, so that it is unmapped once whatever the race (a free and a close, say). Bytes and
 * counts of blocks in use are summed over the map when asked for, rather than counted by every allocate and free.
 */
final class LargeBlocks {
    /** One large block's mapping, in use or spare. */
    static final class LargeBlock {
        static final int LIVE = 0;
        static final int SPARE = 1;
        static final int CLAIMED = 2;

        private static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(LargeBlock.class, "state", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** Where the mapping and the payload start. */
        final long address;
        /** Bytes mapped. */
        final long mappingSize;
        // Written only by the thread that holds the block (allocating it from SPARE, or CLAIMED), before the
        // volatile write of state that hands it on: readers read state first.
        /** Bytes asked for. */
        private long byteSize;
        /** Alignment asked for; reallocate keeps it. */
        private long alignment;
        /** Bytes from {@code address} that were ever handed out: beyond them the mapping is zero. */
        private long dirtyEnd;
        /** When it was kept as a spare: larger is newer. */
        private long keptAt;
        private volatile int state;

        LargeBlock(long address, long mappingSize, long byteSize, long alignment, long dirtyEnd) {
            this.address = address;
            this.mappingSize = mappingSize;
            this.byteSize = byteSize;
            this.alignment = alignment;
            this.dirtyEnd = dirtyEnd;
        }

        long address() {
            return address;
        }

        long mappingSize() {
            return mappingSize;
        }

        long byteSize() {
            return byteSize;
        }

        long alignment() {
            return alignment;
        }

        long dirtyEnd() {
            return dirtyEnd;
        }

        long keptAt() {
            return keptAt;
        }

        /**
         * A claimed block, resized in place.
         *
         * @param tail bytes written past the request: a hardened heap's canary
         */
        void resize(long newByteSize, long tail) {
            byteSize = newByteSize;
            dirtyEnd = Math.max(dirtyEnd, newByteSize + tail);
        }

        /** A spare this thread took from its slot, handed out again: LIVE from now on. */
        void reuse(long newByteSize, long newAlignment) {
            byteSize = newByteSize;
            alignment = newAlignment;
            dirtyEnd = Math.max(dirtyEnd, newByteSize);
            state = LIVE;
        }

        /** A block this thread freed (it is SPARE), about to be kept: its age among the spares. */
        void keptAt(long age) {
            keptAt = age;
        }

        boolean changeState(int from, int to) {
            return STATE.compareAndSet(this, from, to);
        }

        void setState(int to) {
            state = to;
        }

        boolean inUse() {
            return state != SPARE;
        }
    }

    private final ConcurrentHashMap<Long, LargeBlock> blocks = new ConcurrentHashMap<>();
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();

    /** Registers a new mapping, LIVE. */
    void add(LargeBlock block) {
        blocks.put(block.address, block);
    }

    /** Counts a block handed out. */
    void countAllocated() {
        allocations.incrementAndGet();
    }

    /**
     * Takes the LIVE block at {@code address} from {@code LIVE} to {@code to} (SPARE to free it, CLAIMED to resize
     * or move it), or returns null when there is no such block or it is not LIVE.
     */
    LargeBlock take(long address, int to) {
        LargeBlock block = blocks.get(address);
        return block != null && block.changeState(LargeBlock.LIVE, to) ? block : null;
    }

    /** Counts a block its user freed. */
    void countFreed() {
        frees.incrementAndGet();
    }

    /** Takes {@code block} out of the registry: true when this call did, and the caller unmaps it. */
    boolean remove(LargeBlock block) {
        return blocks.remove(block.address, block);
    }

    /**
     * Takes every LIVE block out, for the caller to unmap: the heap is closing. A block CLAIMED or SPARE is left to
     * the thread that holds it, which finds the heap closed and removes and unmaps it then (or its slot's, through
     * {@link SpareMappings#takeAll}).
     */
    List<LargeBlock> removeAllLive() {
        List<LargeBlock> all = new ArrayList<>();
        for (LargeBlock block : blocks.values()) {
            if (block.changeState(LargeBlock.LIVE, LargeBlock.CLAIMED) && remove(block)) {
                all.add(block);
            }
        }
        return all;
    }

    boolean contains(long address) {
        return blocks.containsKey(address);
    }

    /** The blocks in use (LIVE or CLAIMED). */
    List<LargeBlock> all() {
        List<LargeBlock> inUse = new ArrayList<>();
        for (LargeBlock block : blocks.values()) {
            if (block.inUse()) {
                inUse.add(block);
            }
        }
        return inUse;
    }

    /** Bytes mapped by spares in the registry: for {@link HeapVerifier}, which expects the spares' own count. */
    long spareBytes() {
        long bytes = 0;
        for (LargeBlock block : blocks.values()) {
            if (!block.inUse()) {
                bytes += block.mappingSize;
            }
        }
        return bytes;
    }

    int count() {
        int count = 0;
        for (LargeBlock block : blocks.values()) {
            if (block.inUse()) {
                count++;
            }
        }
        return count;
    }

    long allocatedBytes() {
        long bytes = 0;
        for (LargeBlock block : blocks.values()) {
            if (block.inUse()) {
                bytes += block.byteSize();
            }
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
