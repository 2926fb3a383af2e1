package io.memalloc;

import java.lang.foreign.MemorySegment;

/**
 * Run in a child JVM by {@link GlobalPropertiesTest}, with the system properties under test: makes
 * {@link MemAlloc#global()}, allocates once, and prints what it then maps: one region, of the size it was made with.
 */
final class GlobalAllocatorScenario {
    private GlobalAllocatorScenario() {}

    public static void main(String[] args) {
        MemAlloc alloc = MemAlloc.global();
        MemorySegment block = alloc.allocate(64);
        System.out.println("mappedBytes " + alloc.stats().mappedBytes());
        alloc.free(block);
    }
}
