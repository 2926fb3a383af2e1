package io.memalloc.internal.os;

/** Argument checks shared by the {@link OsMemory} implementations: a bad call here is a bug above, never user input. */
final class OsChecks {
    private OsChecks() {}

    static void checkMapArguments(long byteSize, long alignment, long granularity) {
        if (byteSize <= 0 || byteSize % granularity != 0) {
            throw new IllegalArgumentException("map size " + byteSize + " is not a positive multiple of " + granularity);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("map alignment " + alignment + " is not a power of two");
        }
    }
}
