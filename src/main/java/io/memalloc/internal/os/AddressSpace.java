package io.memalloc.internal.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A segment that spans the whole address space, through which the allocator reads and writes its own memory.
 *
 * <p>Held in a static final field and read with {@code ValueLayout} accessors, it lets the JIT compile block-header
 * access to plain loads and stores. Only addresses the allocator has mapped are ever accessed through it.
 */
@SuppressWarnings("restricted") // reinterpret is restricted; it is called here and nowhere else in the heap
public final class AddressSpace {
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    /**
     * Where the user address space ends, at the most, on every 64-bit platform MemAlloc runs on: 2^56, on x86-64
     * with five-level paging (AArch64 stops at 2^52, Windows and four-level x86-64 at 2^47). No mapping of this
     * process lies at or above it; and below it, an address plus the size of its mapping cannot overflow a long.
     */
    public static final long USER_END = 1L << 56;

    private AddressSpace() {}

    /** The address space, in the global scope: for the allocator's own metadata. */
    public static MemorySegment all() {
        return ALL;
    }

    /** The address space, in the scope of {@code arena}: slices of it die when that arena closes. */
    public static MemorySegment all(Arena arena) {
        return MemorySegment.NULL.reinterpret(Long.MAX_VALUE, arena, null);
    }

    /** The {@code byteSize} bytes at {@code address}, in the scope of {@code arena}. */
    public static MemorySegment bind(long address, long byteSize, Arena arena) {
        return MemorySegment.ofAddress(address).reinterpret(byteSize, arena, null);
    }

    /** Runs {@code action} when {@code arena} closes (for an automatic arena: once it is unreachable). */
    public static void onClose(Arena arena, Runnable action) {
        MemorySegment.NULL.reinterpret(0, arena, _ -> action.run());
    }
}
