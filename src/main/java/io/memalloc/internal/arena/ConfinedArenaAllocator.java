package io.memalloc.internal.arena;

import io.memalloc.internal.heap.Failures;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;

/**
 * The allocator of a confined arena: a bump pointer in plain fields, used by one thread only.
 *
 * <pre>
 *  segment (the current chunk, bound to the scope)
 *  +------------------------+-------------------------------+
 *  | handed out             | free                          |
 *  +------------------------+-------------------------------+
 *  ^base                    ^next                           ^limit
 *
 *  pooled chunk  (taken when the arena opens)  --&gt;  chunks (more chunks and own blocks, made on the slow path)
 * </pre>
 *
 * The fast path is a thread check, an align-up, a compare and {@code asSlice}; no atomic, no lock, no write to
 * native memory (chunks are zero when taken). The arena takes its first chunk from the pool when it opens, so that
 * an arena whose requests fit in it never runs the slow path, and the JIT can keep its slices out of the Java heap.
 * The JDK scope does escape: the {@link LeakWatch} holds it phantomly, to give the memory back should the arena
 * never be closed.
 */
final class ConfinedArenaAllocator extends ArenaAllocator {
    private final Thread owner = Thread.currentThread();
    private final Runnable onRelease;
    /** The first chunk, from the pool and back to it at close. */
    private final long pooledBase;
    /** Bytes used in the pooled chunk, once the arena has moved on to another; before that, {@code next - base}. */
    private long pooledUsed;
    /** The current chunk when it is not the pooled one, else null. */
    private Chunk current;
    private boolean closed;
    private MemorySegment segment;
    private long base;
    private long next;
    private long limit;
    /** Where {@link #allocateSlow} placed the request in the segment it returned. */
    private long slowOffset;
    private final LeakWatch watch;

    @SuppressWarnings("MustBeClosedChecker") // the JDK arena is closed by close()
    ConfinedArenaAllocator(ChunkPool pool, long maxChunkSize, Runnable onRelease, Throwable site) {
        super(Arena.ofConfined(), pool, maxChunkSize, true);
        this.onRelease = onRelease;
        try {
            pooledBase = pool.take();
        } catch (RuntimeException | Error e) {
            jdkArena.close();
            throw e;
        }
        try {
            segment = bind(pooledBase, pool.chunkSize());
            // Last: once it watches, the arena is open as far as its allocator knows.
            watch = LeakWatch.start(jdkArena, Kind.CONFINED, pool, chunks, pooledBase, site, onRelease);
        } catch (RuntimeException | Error e) {
            pool.give(pooledBase); // untouched, so still zero
            jdkArena.close();
            throw e;
        }
        base = pooledBase;
        next = pooledBase;
        limit = pooledBase + pool.chunkSize();
    }

    /**
     * One {@code asSlice} call site for both paths, so that the JIT can scalar-replace the slice when it does not
     * escape: with a second site on the slow path, the two would merge and neither could be.
     */
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
        MemorySegment from = segment;
        long offset;
        if (bump <= limit - start) {
            next = start + bump;
            offset = start - base;
        } else {
            from = allocateSlow(byteSize, byteAlignment, zero);
            offset = slowOffset;
        }
        return from.asSlice(offset, byteSize);
    }

    /** The segment to slice a request from, and in {@link #slowOffset} where. */
    private MemorySegment allocateSlow(long byteSize, long byteAlignment, boolean zero) {
        if (needsOwnBlock(byteSize, byteAlignment)) {
            slowOffset = 0;
            return ownBlock(byteSize, byteAlignment, zero);
        }
        long lastSize = current == null ? pool.chunkSize() : current.size;
        Chunk chunk = newChunk(byteSize + 1, byteAlignment, lastSize);
        MemorySegment bound = bind(chunk.base, chunk.size); // before any field changes: if it throws, nothing moved
        leaveCurrent();
        current = chunk;
        segment = bound;
        base = chunk.base;
        limit = base + chunk.size;
        long start = (base + byteAlignment - 1) & -byteAlignment;
        next = start + Math.max(byteSize, 1);
        slowOffset = start - base;
        return segment;
    }

    /** Writes down how far the current chunk was used. */
    private void leaveCurrent() {
        if (current == null) {
            pooledUsed = next - base;
        } else {
            current.setUsed(next - base);
        }
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
            try {
                release(); // closed, but a cleanup action threw: the memory goes back all the same
            } catch (RuntimeException | Error refused) {
                e.addSuppressed(refused);
            }
            throw e;
        }
        release();
    }

    private void release() {
        leaveCurrent();
        long usedBytes = pooledUsed + chunks.usedBytes();
        int chunkCount = 1 + chunks.count();
        try {
            Failures failures = new Failures();
            try {
                ChunkPool.zero(pooledBase, pooledUsed);
                pool.give(pooledBase);
            } catch (RuntimeException e) { // an unmap the heap's free made: the other chunks go back all the same
                failures.add(e);
            }
            try {
                chunks.release(pool);
            } catch (RuntimeException e) {
                failures.add(e);
            }
            failures.throwIfAny();
        } finally {
            try {
                reportClosed(lifetime, pool, Kind.CONFINED, usedBytes, chunkCount);
            } finally {
                watch.closed();
                onRelease.run();
            }
            // The scope stays reachable until the watch has ended: else the collector could find it unreachable
            // meanwhile, and the watch give the chunks back a second time.
            Reference.reachabilityFence(jdkArena);
        }
    }

    /** From the owner thread only, as every other use of a confined arena. */
    @Override
    public long allocatedBytes() {
        try {
            if (current == null) {
                return next - base + chunks.usedBytes();
            }
            return pooledUsed + chunks.usedBytes() + (next - base - current.used());
        } finally {
            Reference.reachabilityFence(jdkArena); // the leak watch must not release the chunks being counted
        }
    }

    /** From the owner thread only, as every other use of a confined arena. */
    @Override
    public int chunkCount() {
        try {
            return 1 + chunks.count();
        } finally {
            Reference.reachabilityFence(jdkArena);
        }
    }
}
