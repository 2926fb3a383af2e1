package io.memalloc.internal.arena;

import io.memalloc.internal.heap.Failures;
import io.memalloc.internal.heap.Heap;
import io.memalloc.internal.os.AddressSpace;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Where arenas get their chunks: first chunks of {@link #chunkSize()} bytes, all zero, kept for the next arena; other
 * sizes straight from the {@link Heap}.
 *
 * <pre>
 *  slots:  [ addr | 0 | addr | 0 | ... ]      each non-zero slot: a chunk of chunkSize bytes, every byte zero
 *            ^ take: CAS addr -&gt; 0            ^ give back: CAS 0 -&gt; addr (when all are full: free to the heap)
 * </pre>
 *
 * <p>A thread that opens and closes arenas in a loop takes and gives back the same chunk: no lock, no system call,
 * no mapping per arena. Chunks are zero in the pool because an arena zeroes the bytes it used when it closes
 * ({@link ArenaChunks#release}): that costs what was used, not the whole chunk, and no arena ever sees another's
 * bytes. A thread starts its search at a slot picked by its id, so threads rarely touch the same slot.
 *
 * <p>Pooled chunks are live blocks of the heap until {@link #drain}; {@code MemAlloc.stats()} takes them off what
 * it reports allocated, and reports them apart ({@link #pooledCount}).
 */
public final class ChunkPool {
    private final Heap heap;
    private final long chunkSize;
    private final AtomicLongArray slots;
    /** Arenas of this allocator that became unreachable unclosed, whose memory the leak watch gave back. */
    private final AtomicLong leakedArenas = new AtomicLong();

    /**
     * @param chunkSize the size of first chunks, the only ones pooled
     * @param slotCount how many chunks the pool holds at most: a power of two, or 0 for none (a hardened heap's
     *                  arenas give their chunks back to the heap, which poisons and quarantines them)
     */
    public ChunkPool(Heap heap, long chunkSize, int slotCount) {
        if (slotCount != 0 && Integer.bitCount(slotCount) != 1) {
            throw new IllegalArgumentException("slotCount " + slotCount + " is neither 0 nor a power of two");
        }
        this.heap = heap;
        this.chunkSize = chunkSize;
        this.slots = new AtomicLongArray(slotCount);
    }

    /** The name of the heap the chunks come from, for events. */
    String heapName() {
        return heap.name();
    }

    /** {@return how many arenas of this allocator the leak watch found unreachable and unclosed, so far} */
    public long leakedArenaCount() {
        return leakedArenas.get();
    }

    /** Counts an arena the leak watch found unreachable and unclosed. */
    void countLeakedArena() {
        leakedArenas.incrementAndGet();
    }

    /** How many chunks the pool holds now: a moment's count, exact when no arena opens or closes meanwhile. */
    public int pooledCount() {
        int pooled = 0;
        for (int slot = 0; slot < slots.length(); slot++) {
            if (slots.get(slot) != 0) {
                pooled++;
            }
        }
        return pooled;
    }

    public long chunkSize() {
        return chunkSize;
    }

    /** A zeroed chunk of {@link #chunkSize()} bytes. */
    long take() {
        int n = slots.length();
        int start = startSlot(n);
        for (int i = 0; i < n; i++) {
            int slot = (start + i) & (n - 1);
            long address = slots.get(slot);
            if (address != 0 && slots.compareAndSet(slot, address, 0)) {
                return address;
            }
        }
        return heap.allocate(chunkSize, ArenaAllocator.CHUNK_ALIGNMENT, true);
    }

    /** Takes back a chunk of {@link #chunkSize()} bytes whose every byte is zero. */
    void give(long address) {
        int n = slots.length();
        int start = startSlot(n);
        for (int i = 0; i < n; i++) {
            int slot = (start + i) & (n - 1);
            if (slots.get(slot) == 0 && slots.compareAndSet(slot, 0, address)) {
                return;
            }
        }
        heap.free(address);
    }

    /** A chunk of another size, zeroed as far as the heap recycled it. */
    long allocate(long byteSize, long alignment, boolean zero) {
        return heap.allocate(byteSize, alignment, zero);
    }

    void free(long address) {
        heap.free(address);
    }

    /**
     * Gives every pooled chunk back to the heap, even when a free throws (the OS refused to unmap a region the free
     * emptied: the chunk is freed all the same); then throws the first failure.
     *
     * @return the bytes given back
     */
    public long drain() {
        long drained = 0;
        Failures failures = new Failures();
        for (int slot = 0; slot < slots.length(); slot++) {
            long address = slots.getAndSet(slot, 0);
            if (address != 0) {
                try {
                    heap.free(address);
                    drained += chunkSize;
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            }
        }
        failures.throwIfAny();
        return drained;
    }

    private static int startSlot(int n) {
        long id = Thread.currentThread().threadId();
        return (int) ((id * 0x9E3779B97F4A7C15L) >>> 32) & (n - 1);
    }

    /** Zeroes {@code byteSize} bytes of a chunk at {@code address}. */
    static void zero(long address, long byteSize) {
        if (byteSize > 0) {
            AddressSpace.all().asSlice(address, byteSize).fill((byte) 0);
        }
    }
}
