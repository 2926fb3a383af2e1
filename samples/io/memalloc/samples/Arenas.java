package io.memalloc.samples;

import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The same work with {@code Arena.ofConfined()} and {@code MemArena.ofConfined()} side by side: open an arena, make
 * 100 allocations of 64 bytes, close it. Timed roughly, median of several rounds in one run, to show the difference;
 * the JMH suite is where the numbers are measured properly.
 */
public final class Arenas {
    private static final int ARENAS_PER_ROUND = 20_000;
    private static final int ROUNDS = 9;
    private static final int ALLOCATIONS = 100;

    private Arenas() {}

    public static void main(String[] args) {
        long jdk = medianNanosPerArena(Arena::ofConfined);
        long memArena = medianNanosPerArena(MemArena::ofConfined);
        System.out.printf("arena with %d x 64 B, create to close (median of %d rounds of %,d arenas):%n",
                ALLOCATIONS, ROUNDS, ARENAS_PER_ROUND);
        System.out.printf("  Arena.ofConfined()     %,8d ns%n", jdk);
        System.out.printf("  MemArena.ofConfined()  %,8d ns   (%.1fx)%n", memArena, (double) jdk / memArena);
        System.out.println("rough figures from one run on a shared machine; see the JMH suite for real ones");
    }

    private static long medianNanosPerArena(Supplier<Arena> open) {
        long sink = 0;
        long[] rounds = new long[ROUNDS];
        for (int warmUp = 0; warmUp < 3; warmUp++) {
            sink += run(open);
        }
        for (int r = 0; r < ROUNDS; r++) {
            long start = System.nanoTime();
            sink += run(open);
            rounds[r] = (System.nanoTime() - start) / ARENAS_PER_ROUND;
        }
        if (sink == 42) {
            System.out.println(); // keeps the work from being optimized away
        }
        Arrays.sort(rounds);
        return rounds[ROUNDS / 2];
    }

    private static long run(Supplier<Arena> open) {
        long sink = 0;
        for (int i = 0; i < ARENAS_PER_ROUND; i++) {
            try (Arena arena = open.get()) {
                for (int a = 0; a < ALLOCATIONS; a++) {
                    MemorySegment segment = arena.allocate(64, 8);
                    segment.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) a);
                    sink += segment.address();
                }
            }
        }
        return sink;
    }
}
