package io.memalloc;

import io.memalloc.internal.arena.ArenaAllocator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An {@link Arena} whose memory comes from {@link MemAlloc}'s regions: a drop-in for {@link Arena#ofConfined()},
 * {@link Arena#ofShared()} and {@link Arena#ofAuto()}, with the speed of slicing one segment.
 *
 * {@snippet lang = java file = "JavadocSnippets.java" region = "arena"}
 *
 * <p>Every guarantee of the JDK's arenas holds, because the scope <em>is</em> a JDK arena's: each MemArena owns one
 * of its kind and binds its memory to it. Segments are native, of exactly the size asked, aligned, disjoint, zeroed
 * (unless {@link #allocateUninitialized} is asked for), and their {@code scope()} is this arena's. Closing makes them
 * inaccessible ({@link IllegalStateException}); a confined arena throws {@link WrongThreadException} when another
 * thread allocates, accesses or closes; closing while a downcall uses one of the segments fails as the JDK's does.
 *
 * <p>How: an arena slices its allocations from chunks it takes from its {@code MemAlloc}: a 16 KiB first chunk kept
 * zeroed in a small pool (so that opening and closing arenas in a loop maps nothing and takes no heap lock), then chunks
 * twice as big as the last, and a block of its own for a request bigger than 16 KiB. An automatic arena starts with a
 * 256-byte chunk instead (or what its first request needs), since the collector ends such arenas late and many at
 * once. Closing gives all of it back in O(chunks), zeroing only the bytes that were handed out. An open arena's
 * chunks count in its allocator's {@link MemAlloc#stats()}.
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

    /**
     * {@return a new confined arena on {@link MemAlloc#global()}} Only the thread that makes it may use and close it.
     */
    public static MemArena ofConfined() {
        return MemAlloc.global().newConfinedArena();
    }

    /**
     * {@return a new shared arena on {@link MemAlloc#global()}} Any thread may allocate in it, access its memory and
     * close it.
     */
    public static MemArena ofShared() {
        return MemAlloc.global().newSharedArena();
    }

    /**
     * {@return a new automatic arena on {@link MemAlloc#global()}} Its memory goes back once the arena and all its
     * segments are unreachable, as with {@link Arena#ofAuto()}. It cannot be closed.
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
     *
     * @param byteSize      the size in bytes, 0 or more
     * @param byteAlignment the alignment in bytes, a power of two
     * @return a segment of {@code byteSize} bytes, bound to this arena's scope
     * @throws IllegalArgumentException if {@code byteSize < 0} or {@code byteAlignment} is not a power of two
     * @throws OutOfMemoryError         if the memory cannot be had
     * @throws IllegalStateException    if this arena is closed
     * @throws WrongThreadException     if this arena is confined and the caller is not its owner thread
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
     * @throws IllegalStateException         if it is closed already, or one of its segments is in use by a downcall;
     *                                       or, once it is closed and its memory has gone back, if the OS refused
     *                                       to unmap a mapping that emptied (see {@link MemAlloc#free})
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

    /** {@return the bytes handed out by this arena so far, alignment padding included} */
    public long allocatedBytes() {
        return allocator.allocatedBytes();
    }

    /** {@return how many chunks (and blocks of their own for big requests) this arena holds} */
    public int chunkCount() {
        return allocator.chunkCount();
    }

    /** {@return the allocator this arena draws on} */
    public MemAlloc allocator() {
        return alloc;
    }

    @Override
    public String toString() {
        return "MemArena[" + (automatic ? "automatic" : scope().isAlive() ? "open" : "closed") + ", "
                + chunkCount() + " chunks, " + allocatedBytes() + " bytes allocated]";
    }
}
