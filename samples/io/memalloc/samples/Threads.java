package io.memalloc.samples;

import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Two ways threads share MemAlloc. First a shared arena that four threads fill at once, each writing its number
 * into its segments, and that a fifth thread closes; a segment used after that throws. Then a private MemAlloc per
 * worker pool, so that each pool's memory is counted, capped and given back on its own.
 */
public final class Threads {
    private static final int FILLERS = 4;
    private static final int SEGMENTS_PER_FILLER = 1_000;

    private Threads() {}

    public static void main(String[] args) throws Exception {
        sharedArena();
        System.out.println();
        allocatorPerPool();
    }

    private static void sharedArena() throws Exception {
        MemArena arena = MemArena.ofShared();
        ConcurrentLinkedQueue<MemorySegment> segments = new ConcurrentLinkedQueue<>();
        List<Thread> fillers = new ArrayList<>();
        for (int t = 0; t < FILLERS; t++) {
            int filler = t;
            fillers.add(Thread.ofPlatform().name("filler-" + t).start(() -> {
                for (int i = 0; i < SEGMENTS_PER_FILLER; i++) {
                    MemorySegment s = arena.allocate(ValueLayout.JAVA_INT, 16); // 64 bytes each
                    s.fill((byte) filler);
                    segments.add(s);
                }
            }));
        }
        for (Thread filler : fillers) {
            filler.join();
        }
        int[] perFiller = new int[FILLERS];
        for (MemorySegment s : segments) {
            byte mark = s.get(ValueLayout.JAVA_BYTE, 0);
            if (s.get(ValueLayout.JAVA_BYTE, 63) != mark) {
                throw new IllegalStateException("two threads got overlapping segments");
            }
            perFiller[mark]++;
        }
        System.out.printf("%d threads filled one shared arena: %,d segments of 64 B, none overlapping%n", FILLERS,
                segments.size());
        for (int t = 0; t < FILLERS; t++) {
            System.out.printf("  filler-%d wrote %,d of them%n", t, perFiller[t]);
        }
        System.out.printf("  the arena holds %,d bytes in %d chunks%n", arena.allocatedBytes(), arena.chunkCount());

        Thread closer = Thread.ofPlatform().name("closer").start(arena::close);
        closer.join();
        System.out.println("thread 'closer' closed it; the arena's scope is alive: " + arena.scope().isAlive());
        String refused = null;
        try {
            segments.peek().get(ValueLayout.JAVA_INT, 0);
        } catch (IllegalStateException e) {
            refused = e.getMessage();
        }
        if (refused == null) {
            throw new AssertionError("a segment of a closed arena was readable");
        }
        System.out.println("reading a segment now throws IllegalStateException: " + refused);
    }

    private static void allocatorPerPool() throws Exception {
        try (MemAlloc decoders = MemAlloc.builder().name("decoders").regionSize(1 << 20).build();
             MemAlloc encoders = MemAlloc.builder().name("encoders").regionSize(1 << 20)
                     .maxMappedBytes(8 << 20).build();
             ExecutorService decoderPool = Executors.newFixedThreadPool(2);
             ExecutorService encoderPool = Executors.newFixedThreadPool(2)) {
            List<Future<?>> work = new ArrayList<>();
            for (int task = 0; task < 8; task++) {
                work.add(decoderPool.submit(() -> churn(decoders, 4096)));
                work.add(encoderPool.submit(() -> churn(encoders, 256)));
            }
            for (Future<?> f : work) {
                f.get();
            }
            System.out.println("a private MemAlloc per worker pool, after 8 tasks each:");
            for (MemAlloc alloc : List.of(decoders, encoders)) {
                System.out.printf("  %-8s %s%n", alloc.name(), alloc.stats());
            }
            System.out.println("each pool's memory is its own: closing an allocator unmaps all of it");
        }
    }

    /** Keeps 64 blocks of about {@code size} bytes live, replacing one at a time, then frees them. */
    private static void churn(MemAlloc alloc, int size) {
        MemorySegment[] live = new MemorySegment[64];
        for (int i = 0; i < 10_000; i++) {
            int slot = i & 63;
            if (live[slot] != null) {
                alloc.free(live[slot]);
            }
            live[slot] = alloc.allocate(size + (i % 7) * 16L, 16);
            live[slot].set(ValueLayout.JAVA_INT, 0, i);
        }
        for (MemorySegment s : live) {
            alloc.free(s);
        }
    }
}
