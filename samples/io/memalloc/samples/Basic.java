package io.memalloc.samples;

import io.memalloc.AllocatorStats;
import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Allocates a few blocks from an allocator of its own, prints each request and the address it got, frees some,
 * shows that a freed block is reused, then prints the heap map and the statistics.
 */
public final class Basic {
    private Basic() {}

    public static void main(String[] args) {
        // Small regions and one stripe, so that the heap map below fits a screen.
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(1 << 20).build()) {
            System.out.println("An allocator of its own, with 1 MiB regions and one stripe so that its heap map fits a"
                    + " screen (the defaults: 4 MiB regions, 2 x processors stripes); so a request above 512 KiB"
                    + " gets a mapping of its own here, where the default is 1 MiB.");
            record Request(long size, long alignment) {}
            List<MemorySegment> blocks = new ArrayList<>();
            for (Request r : List.of(new Request(24, 8), new Request(100, 16), new Request(8, 64),
                    new Request(4000, 4096), new Request(0, 1), new Request(700_000, 16))) {
                MemorySegment block = alloc.allocate(r.size(), r.alignment());
                block.fill((byte) 0x42);
                blocks.add(block);
                System.out.printf("allocate(%7d, %4d) -> 0x%x%n", r.size(), r.alignment(), block.address());
            }

            MemorySegment second = blocks.get(1);
            alloc.free(second);
            MemorySegment reused = alloc.allocate(100, 16);
            System.out.printf("free(0x%x), then allocate(100, 16) -> 0x%x (%s)%n", second.address(),
                    reused.address(), reused.address() == second.address() ? "the same block" : "another block");
            blocks.set(1, reused);

            MemorySegment grown = alloc.reallocate(blocks.getFirst(), 48);
            System.out.printf("reallocate(0x%x, 48) -> 0x%x, first byte still 0x%02x%n",
                    blocks.getFirst().address(), grown.address(), grown.get(ValueLayout.JAVA_BYTE, 0));
            blocks.set(0, grown);

            System.out.println();
            System.out.print(alloc.heapMap());
            for (MemorySegment block : blocks) {
                alloc.free(block);
            }
            alloc.verifyHeap();
            AllocatorStats stats = alloc.stats();
            System.out.println();
            System.out.println("after freeing everything: " + stats);
        }
    }
}
