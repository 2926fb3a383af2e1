package io.memalloc.internal.os;

/** Test helper for calls of {@link OsMemory#map} that must succeed. */
final class Mappings {
    private Mappings() {}

    /**
     * {@code memory.map(byteSize, alignment)}, with an {@link OutOfMemoryError} turned into an {@link AssertionError}.
     * JUnit treats an {@code OutOfMemoryError} as unrecoverable and rethrows it, which kills the whole test JVM;
     * the allocator's own "the OS refused" error must fail just the one test instead.
     */
    static long mapOrFail(OsMemory memory, long byteSize, long alignment) {
        try {
            return memory.map(byteSize, alignment);
        } catch (OutOfMemoryError e) {
            throw new AssertionError("map(" + byteSize + ", " + alignment + ") was refused: " + e.getMessage(), e);
        }
    }
}
