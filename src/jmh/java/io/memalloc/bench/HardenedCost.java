package io.memalloc.bench;

import io.memalloc.MemAlloc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the hardened mode costs: the same work on a private allocator built with {@code hardened(false)} and with
 * {@code hardened(true)}, side by side in one run. (A private allocator, since {@code global()} is hardened only by a
 * system property read once per JVM; neither has thread caches.)
 *
 * <ul>
 *   <li>{@code allocateFree}: allocate {@code size} bytes (zeroed) and free them at once. Hardened, the free checks
 *       the canary, poisons the block and puts it in the quarantine, and the allocation comes from elsewhere.</li>
 *   <li>{@code replace}: 1,000 live blocks of {@code size} bytes; each op frees one picked at random and allocates
 *       its replacement, as a server's steady state would.</li>
 *   <li>{@code arena100}: a confined arena of the allocator, 100 allocations of {@code size} bytes, closed.
 *       Hardened, there is no pool of zeroed first chunks, and the chunks are poisoned as they go back.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class HardenedCost {
    private static final int LIVE = 1_000;
    private static final int PICKS = 1 << 14;

    @Param({"false", "true"})
    public boolean hardened;

    @Param({"64", "1024"})
    public int size;

    private MemAlloc alloc;
    private final MemorySegment[] live = new MemorySegment[LIVE];
    private final int[] picks = new int[PICKS];
    private int next;

    @Setup
    public void setUp() {
        alloc = MemAlloc.builder().name("hardened-" + hardened).hardened(hardened).build();
        for (int i = 0; i < LIVE; i++) {
            live[i] = alloc.allocate(size, 16);
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < PICKS; i++) {
            picks[i] = random.nextInt(LIVE);
        }
    }

    @TearDown
    public void tearDown() {
        for (MemorySegment block : live) {
            alloc.free(block);
        }
        alloc.close();
    }

    @Benchmark
    public long allocateFree() {
        MemorySegment block = alloc.allocate(size, 16);
        alloc.free(block);
        return block.address();
    }

    @Benchmark
    public long replace() {
        int i = picks[next++ & (PICKS - 1)];
        alloc.free(live[i]);
        live[i] = alloc.allocate(size, 16);
        return live[i].address();
    }

    @Benchmark
    public long arena100() {
        long sum = 0;
        try (Arena arena = alloc.newConfinedArena()) {
            for (int i = 0; i < 100; i++) {
                sum += arena.allocate(size, 8).address();
            }
        }
        return sum;
    }
}
