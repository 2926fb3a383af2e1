package io.memalloc.samples;

import io.memalloc.AllocatorStats;
import io.memalloc.MemAlloc;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Uses {@link MemAlloc#global()} from several threads at once, then shows a freed block being reused and a buffer
 * growing with reallocate while it keeps its content.
 */
public final class Global {
    private static final int THREADS = 4;
    private static final int BLOCKS_PER_THREAD = 10_000;

    private Global() {}

    public static void main(String[] args) {
        MemAlloc global = MemAlloc.global();

        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().name("worker-" + t).start(() -> churn(global, id)));
        }
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + thread.getName(), e);
            }
        }
        AllocatorStats afterThreads = global.stats();
        System.out.printf("%d threads made %,d allocations and %,d frees; %d regions mapped (%,d bytes), "
                        + "%d live blocks%n", THREADS, afterThreads.allocationCount(), afterThreads.freeCount(),
                afterThreads.regionCount(), afterThreads.mappedBytes(), afterThreads.liveAllocations());

        MemorySegment first = global.allocate(256, 16);
        long address = first.address();
        global.free(first);
        MemorySegment second = global.allocate(256, 16);
        System.out.printf("a freed 256-byte block at 0x%x is handed out again: 0x%x (%s)%n", address,
                second.address(), second.address() == address ? "reused" : "another one");
        global.free(second);

        MemorySegment buffer = global.allocate(ValueLayout.JAVA_LONG, 4);
        for (int n = 0; n < 20; n++) {
            if (n * 8L >= buffer.byteSize()) {
                long before = buffer.address();
                buffer = global.reallocate(buffer, buffer.byteSize() * 2);
                System.out.printf("grew to %4d bytes: %s%n", buffer.byteSize(),
                        buffer.address() == before ? "in place" : "moved to 0x" + Long.toHexString(buffer.address()));
            }
            buffer.setAtIndex(ValueLayout.JAVA_LONG, n, (long) n * n);
        }
        long sum = 0;
        for (int n = 0; n < 20; n++) {
            sum += buffer.getAtIndex(ValueLayout.JAVA_LONG, n);
        }
        System.out.println("sum of the first 20 squares, read back after growing: " + sum);
        global.free(buffer);
        System.out.println("global allocator now: " + global.stats());
    }

    /** Allocates and frees blocks of many sizes, keeping up to 100 alive, each checked before it is freed. */
    private static void churn(MemAlloc global, int id) {
        List<MemorySegment> live = new ArrayList<>();
        for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
            MemorySegment block = global.allocate(16 + (i * 37L + id) % 2000, 16);
            block.fill((byte) id);
            live.add(block);
            if (live.size() > 100) {
                MemorySegment old = live.remove((i * 7) % live.size());
                if (old.get(ValueLayout.JAVA_BYTE, old.byteSize() - 1) != (byte) id) {
                    throw new IllegalStateException("block 0x" + Long.toHexString(old.address()) + " was overwritten");
                }
                global.free(old);
            }
        }
        live.forEach(global::free);
    }
}
