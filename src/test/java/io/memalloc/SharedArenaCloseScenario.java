package io.memalloc;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run in a child JVM by {@link SharedArenaCloseTest}, with a round count and {@code global} or {@code private} (the
 * allocator the arenas draw on): rounds in which one thread fills a 256 MiB segment of a shared
 * {@link MemArena} over and over while two others close the arena at the same moment. Exits 0 and prints one line
 * per round when every round had exactly one close that returned and one that threw {@link IllegalStateException},
 * and the filler stopped with an {@code IllegalStateException}; exits 1 naming the round otherwise. Before the fix,
 * the JVM died here of a SIGSEGV in {@code Unsafe.setMemory}: the losing close unmapped the segment while the
 * winner's handshake still waited on the filler.
 */
final class SharedArenaCloseScenario {
    private static final long SEGMENT_BYTES = 256L << 20;

    private SharedArenaCloseScenario() {}

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        // A private allocator keeps no spare mappings: a large block freed is unmapped at once.
        MemAlloc alloc = args[1].equals("global") ? MemAlloc.global() : MemAlloc.builder().build();
        for (int round = 0; round < rounds; round++) {
            String failure = round(alloc);
            if (failure != null) {
                System.out.println("round " + round + " failed: " + failure);
                System.exit(1);
            }
            System.out.println("round " + round + ": one close returned, one threw, the filler was stopped");
        }
        System.out.println("all " + rounds + " rounds ended normally");
    }

    /** One round; null when it went as it must, else what went wrong. */
    private static String round(MemAlloc alloc) throws Exception {
        MemArena arena = alloc.newSharedArena();
        MemorySegment segment = arena.allocate(SEGMENT_BYTES);
        AtomicLong fills = new AtomicLong();
        AtomicInteger fillerStopped = new AtomicInteger();
        Thread filler = Thread.ofPlatform().start(() -> {
            try {
                for (byte b = 1; ; b++) {
                    segment.fill(b);
                    fills.incrementAndGet();
                }
            } catch (IllegalStateException closed) {
                fillerStopped.incrementAndGet();
            }
            Thread.interrupted(); // the JDK 25 close may leave the accessing thread interrupted
        });
        while (fills.get() == 0) { // the closes must meet a filler inside fill, not one yet to start
            Thread.onSpinWait();
        }
        CyclicBarrier together = new CyclicBarrier(2);
        AtomicInteger returned = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        Runnable closer = () -> {
            try {
                together.await();
                arena.close();
                returned.incrementAndGet();
            } catch (IllegalStateException alreadyClosed) {
                refused.incrementAndGet();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        Thread first = Thread.ofPlatform().start(closer);
        Thread second = Thread.ofPlatform().start(closer);
        first.join();
        second.join();
        filler.join();
        if (returned.get() != 1 || refused.get() != 1 || fillerStopped.get() != 1) {
            return returned + " closes returned, " + refused + " threw, the filler stopped " + fillerStopped
                    + " times";
        }
        return null;
    }
}
