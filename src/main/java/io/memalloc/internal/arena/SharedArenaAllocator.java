package io.memalloc.internal.arena;

import io.memalloc.internal.event.ArenaClosedEvent;
import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The allocator of a shared or automatic arena: any thread may allocate at once. The bump pointer is the current
 * chunk's {@code used}, advanced with a CAS; taking a new chunk, and closing, hold a lock.
 *
 * <p>An automatic arena's memory goes back when the JDK arena's scope becomes unreachable: the release action is
 * registered with it and keeps only the {@link ArenaChunks} (addresses, no segments), so it does not keep the scope
 * alive itself.
 */
final class SharedArenaAllocator extends ArenaAllocator {
    /**
     * The chunk slices come from, and its segment bound to the scope, swapped together. A class, not a record:
     * threads compare it by identity to see whether another one swapped it.
     */
    private static final class Current {
        private final Chunk chunk;
        private final MemorySegment segment;

        Current(Chunk chunk, MemorySegment segment) {
            this.chunk = chunk;
            this.segment = segment;
        }

        Chunk chunk() {
            return chunk;
        }

        MemorySegment segment() {
            return segment;
        }
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Runnable onRelease;
    private volatile Current current;
    private volatile boolean closed;
    /** Watches a shared arena for a leak; null for an automatic one, whose end is to become unreachable. */
    private final LeakWatch watch;

    @SuppressWarnings("MustBeClosedChecker") // a shared JDK arena is closed by close(); an automatic one by the GC
    SharedArenaAllocator(boolean automatic, ChunkPool pool, long maxChunkSize, Runnable onRelease, Throwable site) {
        super(automatic ? Arena.ofAuto() : Arena.ofShared(), pool, maxChunkSize);
        this.onRelease = onRelease;
        if (automatic) {
            AddressSpace.onClose(jdkArena, releaseAction(lock, chunks, pool, lifetime, onRelease));
            watch = null;
        } else {
            watch = LeakWatch.start(jdkArena, Kind.SHARED, pool, chunks, 0, site, onRelease);
        }
    }

    /**
     * Built in a static method, so that it cannot capture {@code this} and with it the scope. It takes the lock, which
     * references nothing, so that the chunk list it reads on the cleaner thread is the one the arena wrote.
     */
    private static Runnable releaseAction(ReentrantLock lock, ArenaChunks chunks, ChunkPool pool,
                                          ArenaClosedEvent lifetime, Runnable onRelease) {
        return () -> {
            lock.lock();
            try {
                reportClosed(lifetime, pool, Kind.AUTO, chunks.usedBytes(), chunks.count());
                chunks.release(pool);
            } finally {
                lock.unlock();
                onRelease.run();
            }
        };
    }

    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment, boolean zero) {
        while (true) {
            if (closed) {
                throw alreadyClosed();
            }
            Current c = current;
            if (c != null) {
                long used = c.chunk().used();
                long offset = fit(c.chunk(), used, Math.max(byteSize, 1), byteAlignment);
                if (offset >= 0) {
                    // At least one byte, so that zero-length segments get distinct addresses, as in the JDK.
                    if (c.chunk().casUsed(used, offset + Math.max(byteSize, 1))) {
                        return c.segment().asSlice(offset, byteSize);
                    }
                    continue;
                }
            }
            MemorySegment own = refill(c, byteSize, byteAlignment, zero);
            if (own != null) {
                return own;
            }
        }
    }

    /** Takes a new chunk unless another thread did meanwhile; or, for a big request, returns a block of its own. */
    private MemorySegment refill(Current seen, long byteSize, long byteAlignment, boolean zero) {
        lock.lock();
        try {
            if (closed) {
                throw alreadyClosed();
            }
            if (needsOwnBlock(byteSize, byteAlignment)) {
                return ownBlock(byteSize, byteAlignment, zero);
            }
            if (current == seen) {
                Chunk chunk = newChunk(byteSize + 1, byteAlignment, seen == null ? 0 : seen.chunk().size);
                current = new Current(chunk, bind(chunk.base, chunk.size));
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        // The JDK arena closes outside the lock: its close runs user cleanup actions, which must not wait on it.
        try {
            jdkArena.close();
        } catch (RuntimeException | Error e) {
            if (jdkArena.scope().isAlive()) { // refused (closed already, in use by a downcall): no change
                throw e;
            }
            release(); // closed, but a cleanup action threw: the memory goes back all the same
            throw e;
        }
        release();
    }

    /**
     * Once the scope is closed: refuses later refills and gives everything back, a chunk a refill took included.
     * Only the first call does anything: two threads may race to close, and the JDK tells the loser "closed" only
     * after the winner closed the scope.
     */
    private void release() {
        boolean first = false;
        lock.lock();
        try {
            first = !closed;
            closed = true;
            if (first) {
                reportClosed(lifetime, pool, Kind.SHARED, chunks.usedBytes(), chunks.count());
                chunks.release(pool);
            }
        } finally {
            lock.unlock();
            if (first) {
                watch.closed();
                onRelease.run();
            }
            Reference.reachabilityFence(jdkArena); // see ConfinedArenaAllocator#release
        }
    }

    @Override
    public long allocatedBytes() {
        lock.lock();
        try {
            return chunks.usedBytes();
        } finally {
            lock.unlock();
            Reference.reachabilityFence(jdkArena); // an automatic arena must not be released while counted
        }
    }

    @Override
    public int chunkCount() {
        lock.lock();
        try {
            return chunks.count();
        } finally {
            lock.unlock();
            Reference.reachabilityFence(jdkArena);
        }
    }
}
