package io.memalloc.internal.arena;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The allocator of a confined arena: a bump pointer in plain fields, used by one thread only.
 *
 * <pre>
 *  segment (the current chunk, bound to the scope)
 *  +------------------------+-------------------------------+
 *  | handed out             | free                          |
 *  +------------------------+-------------------------------+
 *  ^base                    ^next                           ^limit
 * </pre>
 *
 * The fast path is a thread check, an align-up, a compare and {@code asSlice}; no atomic, no lock, no write to
 * native memory (chunks are zero when taken).
 */
final class ConfinedArenaAllocator extends ArenaAllocator {
    private final Thread owner = Thread.currentThread();
    private final Runnable onRelease;
    private boolean closed;
    private Chunk current;
    private MemorySegment segment;
    private long base;
    private long next;
    /** -1 until the first chunk, so that even a request of 0 bytes takes the slow path and gets one. */
    private long limit = -1;

    @SuppressWarnings("MustBeClosedChecker") // the JDK arena is closed by close()
    ConfinedArenaAllocator(ChunkPool pool, long maxChunkSize, Runnable onRelease) {
        super(Arena.ofConfined(), pool, maxChunkSize);
        this.onRelease = onRelease;
    }

    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment, boolean zero) {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("Attempted access outside owning thread");
        }
        if (closed) {
            throw alreadyClosed();
        }
        long start = (next + byteAlignment - 1) & -byteAlignment;
        long bump = Math.max(byteSize, 1); // zero-length segments get distinct addresses, as in the JDK
        if (bump <= limit - start) {
            next = start + bump;
            return segment.asSlice(start - base, byteSize);
        }
        return allocateSlow(byteSize, byteAlignment, zero);
    }

    private MemorySegment allocateSlow(long byteSize, long byteAlignment, boolean zero) {
        if (needsOwnBlock(byteSize, byteAlignment)) {
            return ownBlock(byteSize, byteAlignment, zero);
        }
        long lastSize = 0;
        if (current != null) {
            current.setUsed(next - base);
            lastSize = current.size;
        }
        Chunk chunk = newChunk(byteSize + 1, byteAlignment, lastSize);
        MemorySegment bound = bind(chunk); // before any field changes: if it throws, the arena is as it was
        current = chunk;
        segment = bound;
        base = chunk.base;
        limit = base + chunk.size;
        long start = (base + byteAlignment - 1) & -byteAlignment;
        next = start + Math.max(byteSize, 1);
        return segment.asSlice(start - base, byteSize);
    }

    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("Attempted access outside owning thread");
        }
        if (closed) {
            throw alreadyClosed();
        }
        closed = true; // a cleanup action run by the close below must not get memory from this arena
        try {
            jdkArena.close();
        } catch (RuntimeException | Error e) {
            if (jdkArena.scope().isAlive()) { // refused (in use by a downcall): nothing changed
                closed = false;
                throw e;
            }
            release(); // closed, but a cleanup action threw: the memory goes back all the same
            throw e;
        }
        release();
    }

    private void release() {
        if (current != null) {
            current.setUsed(next - base);
        }
        try {
            chunks.release(pool);
        } finally {
            onRelease.run();
        }
    }

    /** From the owner thread only, as every other use of a confined arena. */
    @Override
    public long allocatedBytes() {
        return chunks.usedBytes() + (current == null ? 0 : next - base - current.used());
    }

    /** From the owner thread only, as every other use of a confined arena. */
    @Override
    public int chunkCount() {
        return chunks.count();
    }
}
