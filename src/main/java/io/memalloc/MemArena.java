package io.memalloc;

import io.memalloc.internal.arena.ArenaAllocator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An {@link Arena} whose memory comes from {@link MemAlloc}'s regions: a drop-in for {@link Arena#ofConfined()},
 * {@link Arena#ofShared()} and {@link Arena#ofAuto()}, with the speed of slicing one segment.
 *
 * {@snippet lang = java:
 * try (Arena arena = MemArena.ofConfined()) {           // was: Arena.ofConfined()
 *     MemorySegment name = arena.allocateFrom("hello");
 *     MemorySegment ints = arena.allocate(ValueLayout.JAVA_INT, 100);
 *     // ... pass them to native code ...
 * }                                                     // everything freed at once
 * }
 *
 * <p>Every guarantee of the JDK's arenas holds, because the scope <em>is</em> a JDK arena's: each MemArena owns one
 * of its kind and binds its memory to it. Segments are native, of exactly the size asked, aligned, disjoint, zeroed
 * (unless {@link #allocateUninitialized} is asked for), and their {@code scope()} is this arena's. Closing makes them
 * inaccessible ({@link IllegalStateException}); a confined arena throws {@link WrongThreadException} when another
 * thread allocates, accesses or closes; closing while a downcall uses one of the segments fails as the JDK's does.
 *
 * <p>How: an arena slices its allocations from chunks it takes from its {@code MemAlloc}: a 16 KiB first chunk kept
 * zeroed in a small pool (so that opening and closing arenas in a loop maps nothing and locks nothing), then chunks
 * twice as big as the last, and a block of its own for a request bigger than a first chunk. Closing gives all of it back
 * in O(chunks), zeroing only the bytes that were handed out. An open arena's chunks count in its allocator's
 * {@link MemAlloc#stats()}.
 */
public final class MemArena implements Arena {
    private final MemAlloc alloc;
    private final ArenaAllocator allocator;
    private final boolean automatic;

    MemArena(MemAlloc alloc, ArenaAllocator allocator, boolean automatic) {
        this.alloc = alloc;
        this.allocator = allocator;
        this.automatic = automatic;
    }

    /** A confined arena on {@link MemAlloc#global()}: only the thread that makes it may use and close it. */
    public static MemArena ofConfined() {
        return MemAlloc.global().newConfinedArena();
    }

    /** A shared arena on {@link MemAlloc#global()}: any thread may allocate in it, access its memory and close it. */
    public static MemArena ofShared() {
        return MemAlloc.global().newSharedArena();
    }

    /**
     * An automatic arena on {@link MemAlloc#global()}: its memory goes back once the arena and all its segments are
     * unreachable, as with {@link Arena#ofAuto()}. It cannot be closed.
     */
    public static MemArena ofAuto() {
        return MemAlloc.global().newAutoArena();
    }

    /**
     * Allocates {@code byteSize} bytes aligned to {@code byteAlignment}, zeroed.
     *
     * @throws IllegalArgumentException if {@code byteSize < 0} or {@code byteAlignment} is not a power of two
     * @throws OutOfMemoryError         if the memory cannot be had
     * @throws IllegalStateException    if this arena is closed
     * @throws WrongThreadException     if this arena is confined and the caller is not its owner thread
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        MemAlloc.checkAllocation(byteSize, byteAlignment);
        return allocator.allocate(byteSize, byteAlignment, true);
    }

    /**
     * As {@link #allocate(long, long)}, except that the memory need not be zeroed. (Slices of a chunk are zero
     * anyway; a block of its own skips the zeroing of recycled bytes.)
     */
    public MemorySegment allocateUninitialized(long byteSize, long byteAlignment) {
        MemAlloc.checkAllocation(byteSize, byteAlignment);
        return allocator.allocate(byteSize, byteAlignment, false);
    }

    @Override
    public MemorySegment.Scope scope() {
        return allocator.scope();
    }

    /**
     * Closes this arena: its scope is no longer alive, its segments become inaccessible, and its memory goes back
     * to its {@code MemAlloc}.
     *
     * @throws IllegalStateException         if it is closed already, or one of its segments is in use by a downcall
     * @throws WrongThreadException          if it is confined and the caller is not its owner thread
     * @throws UnsupportedOperationException if it is automatic ({@link #ofAuto()})
     */
    @Override
    public void close() {
        if (automatic) {
            throw new UnsupportedOperationException("an automatic arena is closed by the garbage collector");
        }
        allocator.close();
    }

    /** Bytes handed out by this arena so far, alignment padding included. */
    public long allocatedBytes() {
        return allocator.allocatedBytes();
    }

    /** Chunks (and blocks of their own for big requests) this arena holds. */
    public int chunkCount() {
        return allocator.chunkCount();
    }

    /** The allocator this arena draws on. */
    public MemAlloc allocator() {
        return alloc;
    }

    @Override
    public String toString() {
        return "MemArena[" + (automatic ? "automatic" : scope().isAlive() ? "open" : "closed") + ", "
                + chunkCount() + " chunks, " + allocatedBytes() + " bytes allocated]";
    }
}
