package io.memalloc.internal.arena;

import io.memalloc.internal.event.ArenaClosedEvent;
import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory behind one {@code MemArena}: a JDK arena for the scope (liveness, thread confinement, close), and
 * chunks from a {@link ChunkPool} that allocations are sliced from.
 *
 * <pre>
 *  scope  = jdkArena.scope()                    every segment below is bound to it, so closing the JDK arena
 *                                               makes them all inaccessible at once
 *  chunk 0 (pooled, 16 KiB) [##### slices #####|.......... zero ..........]     automatic arena: 256 B, the heap's
 *  chunk 1 (2x)             [## slices ##|............ zero ..................]  &lt;- current: bump pointer
 *  block (own)              [ one request bigger than a pooled first chunk (16 KiB) ]
 * </pre>
 *
 * <p>A request is sliced from the current chunk; when it does not fit, the arena takes a chunk twice as big as the
 * last (up to {@link #maxChunkSize}), or, for a request bigger than a pooled first chunk (16 KiB), a block of its
 * own. Closing closes the JDK arena first (which fails, changing nothing, while a downcall uses one of its segments),
 * then gives back every chunk: O(chunks), not O(allocations).
 *
 * <p>Chunks are zero when taken, so a zeroed allocation costs no write at all; closing zeroes what was used.
 */
public abstract sealed class ArenaAllocator permits ConfinedArenaAllocator, SharedArenaAllocator {
    /** Alignment of every chunk; larger alignments are met by padding inside it. */
    static final long CHUNK_ALIGNMENT = 16;
    /**
     * An automatic arena's first chunk, at least: a small block of the heap's, not a pooled 16 KiB chunk. The
     * collector ends automatic arenas late and in bulk, so a 16 KiB chunk each would map regions by the hundred for
     * arenas of one small allocation, and zero 16 KiB for each.
     */
    static final long AUTO_FIRST_CHUNK = 256;

    final Arena jdkArena;
    final ChunkPool pool;
    final ArenaChunks chunks = new ArenaChunks();
    private final long maxChunkSize;
    /** Whether the first chunk is the pool's: true but for an automatic arena (see {@link #AUTO_FIRST_CHUNK}). */
    private final boolean pooledFirstChunk;
    /** Begun now if a recording wants arena events, for the lifetime; else null. */
    final ArenaClosedEvent lifetime = ArenaClosedEvent.opening();

    ArenaAllocator(Arena jdkArena, ChunkPool pool, long maxChunkSize, boolean pooledFirstChunk) {
        this.jdkArena = jdkArena;
        this.pool = pool;
        this.maxChunkSize = maxChunkSize;
        this.pooledFirstChunk = pooledFirstChunk;
    }

    /** The kinds of JDK arena a MemArena can stand in for. */
    public enum Kind {
        /** One thread, over {@code Arena.ofConfined()}. */
        CONFINED("confined"),
        /** Any thread, over {@code Arena.ofShared()}. */
        SHARED("shared"),
        /** Any thread, over {@code Arena.ofAuto()}: its memory goes back once it is unreachable. */
        AUTO("automatic");

        /** What the arena-closed event calls it. */
        final String eventName;

        Kind(String eventName) {
            this.eventName = eventName;
        }
    }

    /**
     * An allocator of {@code kind} drawing on {@code pool}. A confined or shared one is watched: if it becomes
     * unreachable without being closed, its memory goes back and the leak is reported ({@link LeakWatch}).
     *
     * @param onRelease run once every chunk has gone back
     * @param site      where the arena was created, for the leak report; null when sites are not recorded
     */
    public static ArenaAllocator open(Kind kind, ChunkPool pool, long maxChunkSize, Runnable onRelease,
                                      Throwable site) {
        return switch (kind) {
            case CONFINED -> new ConfinedArenaAllocator(pool, maxChunkSize, onRelease, site);
            case SHARED -> new SharedArenaAllocator(false, pool, maxChunkSize, onRelease, site);
            case AUTO -> new SharedArenaAllocator(true, pool, maxChunkSize, onRelease, null);
        };
    }

    /**
     * Tells the leak reports that the allocator named {@code heapName} closed: what they counted of its arenas and
     * have not logged yet is logged now, and its creation sites are forgotten ({@link LeakWatch}).
     */
    public static void allocatorClosed(String heapName) {
        LeakWatch.allocatorClosed(heapName);
    }

    /**
     * A segment of {@code byteSize} bytes at {@code byteAlignment}, bound to {@link #scope()}; zero when
     * {@code zero} is set. The caller has checked the arguments.
     */
    public abstract MemorySegment allocate(long byteSize, long byteAlignment, boolean zero);

    /** Closes the scope, then gives back every chunk. */
    public abstract void close();

    /** Bytes handed out so far, alignment padding included. */
    public abstract long allocatedBytes();

    /** Chunks and blocks held. */
    public abstract int chunkCount();

    public final MemorySegment.Scope scope() {
        return jdkArena.scope();
    }

    /**
     * Whether a request needs a block of its own rather than a slice of a chunk: one bigger than a pooled first chunk
     * (16 KiB). Such a block is zeroed only where the heap recycled bytes, and not at all for
     * {@code allocateUninitialized}, where a chunk would be zeroed whole; next to the zeroing of that many bytes,
     * the heap's lock costs little.
     */
    final boolean needsOwnBlock(long byteSize, long byteAlignment) {
        return byteSize > pool.chunkSize() || byteAlignment > pool.chunkSize();
    }

    /** Takes a block of its own for one request, bound to the scope. */
    final MemorySegment ownBlock(long byteSize, long byteAlignment, boolean zero) {
        long address = pool.allocate(byteSize, byteAlignment, zero);
        chunks.add(new Chunk(address, byteSize, false, byteSize));
        return AddressSpace.bind(address, byteSize, jdkArena);
    }

    /**
     * Takes a new chunk able to hold {@code byteSize} bytes at {@code byteAlignment}. An arena's first chunk is the
     * pool's (or, for an automatic arena, {@link #AUTO_FIRST_CHUNK} bytes); each later one is twice the last, up to
     * {@link #maxChunkSize}, and never less than the request needs.
     */
    final Chunk newChunk(long byteSize, long byteAlignment, long lastChunkSize) {
        long needed = byteSize + Math.max(0, byteAlignment - CHUNK_ALIGNMENT);
        Chunk chunk;
        if (lastChunkSize == 0 && pooledFirstChunk && needed <= pool.chunkSize()) {
            chunk = new Chunk(pool.take(), pool.chunkSize(), true, 0);
        } else {
            // Never below what the request needs: with small regions the largest chunk can be a first chunk's
            // size, which a request that fits one only without its alignment padding outgrows.
            long next = lastChunkSize == 0 ? AUTO_FIRST_CHUNK : Math.min(maxChunkSize, 2 * lastChunkSize);
            long size = Math.max(needed, next);
            chunk = new Chunk(pool.allocate(size, CHUNK_ALIGNMENT, true), size, false, 0);
        }
        chunks.add(chunk);
        return chunk;
    }

    /** Binds a chunk to the scope, once: every slice of it is a slice of this segment. */
    final MemorySegment bind(long address, long byteSize) {
        return AddressSpace.bind(address, byteSize, jdkArena);
    }

    /** Where a slice of {@code byteSize} at {@code byteAlignment} starts in {@code chunk} past {@code used}, or -1. */
    static long fit(Chunk chunk, long used, long byteSize, long byteAlignment) {
        long start = (chunk.base + used + byteAlignment - 1) & -byteAlignment;
        return byteSize <= chunk.base + chunk.size - start ? start - chunk.base : -1;
    }

    /** Commits the {@link #lifetime} event, if there is one. */
    static void reportClosed(ArenaClosedEvent lifetime, ChunkPool pool, Kind kind, long allocatedBytes,
                             int chunkCount) {
        if (lifetime != null) {
            ArenaClosedEvent.closed(lifetime, pool.heapName(), kind.eventName, allocatedBytes, chunkCount);
        }
    }

    static IllegalStateException alreadyClosed() {
        return new IllegalStateException("Already closed");
    }
}
