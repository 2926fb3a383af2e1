package io.memalloc.internal.arena;

import io.memalloc.internal.event.ArenaClosedEvent;
import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The allocator of a shared or automatic arena: any thread may allocate at once. The bump pointer is the current
 * chunk's {@code used}, advanced with a CAS; taking a new chunk holds a lock.
 *
 * <p>The memory goes back in a cleanup action of the JDK arena, registered when the arena opens, so that the JDK's
 * own rules decide when: exactly once, on the thread whose close won, after the close's handshake has waited out
 * every thread accessing a segment (for an automatic arena: once the scope is unreachable). Registered first, it
 * runs after every cleanup action the user adds, since the JDK runs them last-in first-out. Nothing here infers
 * "closed and quiescent" from the scope: a losing close, told "Already closed" while the winner's handshake is still
 * under way, gives nothing back.
 *
 * <pre>
 *  close (thread W) ──> JDK: mark the scope closed ── handshake ── user cleanups ── release (this class) ──> returns
 *  close (thread L) ──> JDK: "Already closed"  ──> IllegalStateException, nothing released
 *  allocate         ──> scope alive? ── CAS the bump ── scope still alive? ──> slice       (else IllegalStateException)
 * </pre>
 *
 * <p>An allocation checks the scope once more after it has claimed its bytes: a segment is returned only if the
 * scope was alive after the bytes were taken, so that one made after a close has begun (from a cleanup action, or on
 * a thread that has seen the scope dead) is refused as the JDK refuses it. A chunk a refill takes goes on the chunk
 * list under the lock the release takes, so it goes back with the rest.
 */
final class SharedArenaAllocator extends ArenaAllocator {
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");
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

    /**
     * Gives an arena's chunks back, once: run by the JDK as a cleanup action, or by {@link #close()} when a user's
     * cleanup action threw an {@link Error} (the JDK's close stops at it, before this one). A class of its own, not a
     * lambda of the arena's, so that it cannot capture the scope (an automatic arena's scope could then never become
     * unreachable). It takes the arena's lock, which references nothing, so that it reads the chunk list the arena's
     * threads wrote, and so that a refill in progress finishes first and its chunk goes too.
     */
    private static final class Release implements Runnable {
        private final AtomicBoolean done = new AtomicBoolean();
        private final Kind kind;
        private final ReentrantLock lock;
        private final ArenaChunks chunks;
        private final ChunkPool pool;
        private final ArenaClosedEvent lifetime;
        /** A shared arena's leak watch, or null. */
        private final LeakWatch watch;
        private final Runnable onRelease;

        Release(Kind kind, ReentrantLock lock, ArenaChunks chunks, ChunkPool pool, ArenaClosedEvent lifetime,
                LeakWatch watch, Runnable onRelease) {
            this.kind = kind;
            this.lock = lock;
            this.chunks = chunks;
            this.pool = pool;
            this.lifetime = lifetime;
            this.watch = watch;
            this.onRelease = onRelease;
        }

        @Override
        public void run() {
            if (!done.compareAndSet(false, true)) {
                return;
            }
            long usedBytes = 0;
            int chunkCount = 0;
            lock.lock();
            try {
                usedBytes = chunks.usedBytes();
                chunkCount = chunks.count();
                chunks.release(pool);
            } finally {
                lock.unlock();
                try {
                    reportClosed(lifetime, pool, kind, usedBytes, chunkCount);
                } finally {
                    if (watch != null) {
                        watch.closed();
                    }
                    onRelease.run();
                }
            }
        }

        /** Makes {@link #run()} do nothing: the arena failed to open, and its opener counts it closed. */
        void cancel() {
            done.set(true);
        }
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final MemorySegment.Scope scope;
    private final Release release;
    private volatile Current current;

    @SuppressWarnings("MustBeClosedChecker") // a shared JDK arena is closed by close(); an automatic one by the GC
    SharedArenaAllocator(boolean automatic, ChunkPool pool, long maxChunkSize, Runnable onRelease, Throwable site) {
        super(automatic ? Arena.ofAuto() : Arena.ofShared(), pool, maxChunkSize, !automatic);
        this.scope = jdkArena.scope();
        Kind kind = automatic ? Kind.AUTO : Kind.SHARED;
        // The leak watch of a shared arena: an automatic one's end is to become unreachable.
        LeakWatch watch = automatic ? null : LeakWatch.start(jdkArena, kind, pool, chunks, 0, site, onRelease);
        release = new Release(kind, lock, chunks, pool, lifetime, watch, onRelease);
        try {
            AddressSpace.onClose(jdkArena, automatic ? warningOfFailures(release, pool.heapName())
                    : keepingReachable(release, jdkArena));
        } catch (RuntimeException | Error e) { // no chunk taken yet: nothing to give back
            release.cancel(); // whether or not the action was registered: the caller counts the arena closed
            if (watch != null) {
                watch.closed();
                jdkArena.close();
            }
            throw e;
        }
    }

    /**
     * An automatic arena's release, which logs what it throws (an unmap the OS refused, the mapping then counted and
     * owed): it runs on the JDK's cleaner thread, which drops every exception.
     */
    private static Runnable warningOfFailures(Runnable release, String heapName) {
        return () -> {
            try {
                release.run();
            } catch (RuntimeException refused) {
                LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + heapName + "': giving back an automatic arena's"
                        + " memory, the OS refused an unmap", refused);
            }
        };
    }

    /**
     * A shared arena's release, which keeps the scope reachable until the watch has ended: the JDK's close no longer
     * needs its session once it runs the cleanup actions, and the collector finding the scope unreachable meanwhile
     * would have the watch give the chunks back a second time. (The scope references this action, but only through
     * itself: a cycle the collector sees through. An automatic arena's action cannot do so, as the JDK's cleaner holds
     * it strongly.)
     */
    private static Runnable keepingReachable(Runnable release, Arena jdkArena) {
        return () -> {
            try {
                release.run();
            } finally {
                Reference.reachabilityFence(jdkArena);
            }
        };
    }

    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment, boolean zero) {
        while (true) {
            if (!scope.isAlive()) {
                throw alreadyClosed();
            }
            Current c = current;
            if (c != null) {
                long used = c.chunk().used();
                long offset = fit(c.chunk(), used, Math.max(byteSize, 1), byteAlignment);
                if (offset >= 0) {
                    // At least one byte, so that zero-length segments get distinct addresses, as in the JDK.
                    if (c.chunk().casUsed(used, offset + Math.max(byteSize, 1))) {
                        return aliveOrThrow(c.segment().asSlice(offset, byteSize));
                    }
                    continue;
                }
            }
            MemorySegment own = refill(c, byteSize, byteAlignment, zero);
            if (own != null) {
                return aliveOrThrow(own);
            }
        }
    }

    /**
     * {@code segment}, if the scope is still alive now that its bytes are taken: else a close began meanwhile, and
     * the bytes go back with the rest when it releases.
     */
    private MemorySegment aliveOrThrow(MemorySegment segment) {
        if (!scope.isAlive()) {
            throw alreadyClosed();
        }
        return segment;
    }

    /** Takes a new chunk unless another thread did meanwhile; or, for a big request, returns a block of its own. */
    private MemorySegment refill(Current seen, long byteSize, long byteAlignment, boolean zero) {
        lock.lock();
        try {
            // Under the lock: the release runs after the scope is marked closed and takes this lock, so a chunk
            // taken here is either refused or on the list it gives back.
            if (!scope.isAlive()) {
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

    /**
     * Closes the JDK arena, whose cleanup action gives the memory back (see the class comment); its exceptions, the
     * release's included, reach the caller as they are. (An automatic arena's user cleanup action that throws an
     * Error stops its release as it stops the JDK's own frees: the JDK's cleaner runs them, and drops the error.)
     */
    @Override
    public void close() {
        try {
            jdkArena.close();
        } catch (Error e) {
            // From a user's cleanup action: only the close that won runs them, after its handshake (a losing one is
            // told IllegalStateException), and the JDK stops at an Error, before the release it registered first.
            // An error of the JVM's own may come from anywhere, a losing close included: the leak watch has those.
            if (!(e instanceof VirtualMachineError) && !scope.isAlive()) {
                try {
                    release.run();
                } catch (RuntimeException | Error refused) {
                    e.addSuppressed(refused);
                }
            }
            throw e;
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
