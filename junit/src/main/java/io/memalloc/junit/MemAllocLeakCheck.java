package io.memalloc.junit;

import io.memalloc.AllocatorStats;
import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that fails a test that leaks native memory: blocks never freed and arenas never closed, with
 * where the blocks were allocated.
 *
 * <p>Given as a parameter, a {@link MemAlloc} is an allocator of the test's own, with its allocation sites recorded;
 * a {@link MemArena} (or an {@link Arena}) is a shared arena on it (so that it works on whatever thread JUnit runs
 * the test, a timeout's included), which the extension closes after the test, as a caller closes the arena it hands
 * to the code it calls. After the test, a block of the allocator never freed is a leak (the allocator is closed, and
 * the failure says where the oldest blocks were allocated), and so is an arena the test opened on it and never
 * closed, whether the collector has found it yet or not. Parameters are given to test methods only (not to
 * constructors or {@code @BeforeAll} methods, whose context outlives one test):
 *
 * {@snippet lang = java :
 * @ExtendWith(MemAllocLeakCheck.class)
 * class ParserTest {
 *     @Test
 *     void readsAHeader(MemAlloc alloc, MemArena arena) {
 *         MemorySegment header = arena.allocate(64);     // freed when the extension closes the arena
 *         MemorySegment body = alloc.allocate(1024);     // must be freed by the test
 *         alloc.free(body);
 *     }
 * }
 * }
 *
 * <p>Code that allocates from {@link MemAlloc#global()} or opens {@link MemArena#ofConfined()} itself is checked by
 * the global mode, registered as a field: the test fails when the global allocator holds more live allocations after
 * it than before, or found more arenas leaked. Other threads allocating meanwhile count too, and so do automatic
 * arenas ({@link MemArena#ofAuto()}) not yet collected, and arenas leaked earlier that the collector finds during the
 * test: it suits tests that allocate on their own thread, with confined and shared arenas.
 *
 * {@snippet lang = java :
 * class CodecTest {
 *     @RegisterExtension
 *     static final MemAllocLeakCheck leaks = MemAllocLeakCheck.ofGlobal();
 *
 *     @Test
 *     void encodes() {
 *         try (Arena arena = MemArena.ofConfined()) {
 *             // ...
 *         }
 *     }
 * }
 * }
 */
public final class MemAllocLeakCheck implements ParameterResolver, BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(
            MemAllocLeakCheck.class);
    private static final String MEMORY = "memory";
    private static final String GLOBAL_BEFORE = "global before";
    /** Tells the allocators of tests apart in their names, for the reports. */
    private static final AtomicLong TESTS = new AtomicLong();

    private final boolean global;

    /** The check of the allocators and arenas it gives the test as parameters: what {@code @ExtendWith} makes. */
    public MemAllocLeakCheck() {
        this(false);
    }

    private MemAllocLeakCheck(boolean global) {
        this.global = global;
    }

    /**
     * {@return a check of {@link MemAlloc#global()} as well}: the test fails when the global allocator holds more
     * live allocations after it than before. It still gives parameters as {@code @ExtendWith} does.
     */
    public static MemAllocLeakCheck ofGlobal() {
        return new MemAllocLeakCheck(true);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return (type == MemAlloc.class || type == MemArena.class || type == Arena.class)
                && context.getTestMethod().isPresent() && parameter.getDeclaringExecutable() instanceof Method;
    }

    /**
     * What the extension gave one test: held in the store through this class, not as the {@code AutoCloseable}s
     * themselves, which the store would close a second time when the test's context ends.
     */
    private static final class TestMemory {
        private final MemAlloc alloc;
        private final List<MemArena> arenas = new ArrayList<>();

        TestMemory(String name) {
            alloc = MemAlloc.builder().name(name).leakSites(true).build();
        }
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        TestMemory memory = context.getStore(NAMESPACE).getOrComputeIfAbsent(MEMORY, key -> new TestMemory(
                name(context)), TestMemory.class);
        if (parameter.getParameter().getType() == MemAlloc.class) {
            return memory.alloc;
        }
        MemArena arena = memory.alloc.newSharedArena();
        memory.arenas.add(arena);
        return arena;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        if (global) {
            context.getStore(NAMESPACE).put(GLOBAL_BEFORE, MemAlloc.global().stats());
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        List<String> leaks = new ArrayList<>();
        TestMemory memory = store.get(MEMORY, TestMemory.class);
        if (memory != null) {
            try {
                for (MemArena arena : memory.arenas) {
                    if (arena.scope().isAlive()) { // the test may have closed it itself
                        arena.close();
                    }
                }
            } finally {
                leaks.addAll(close(memory.alloc));
            }
        }
        AllocatorStats before = store.get(GLOBAL_BEFORE, AllocatorStats.class);
        if (before != null) {
            AllocatorStats after = MemAlloc.global().stats();
            long more = after.liveAllocations() - before.liveAllocations();
            if (more > 0) {
                leaks.add("MemAlloc.global() holds " + more + " more live allocations than before the test ("
                        + (after.allocatedBytes() - before.allocatedBytes()) + " more bytes): blocks never freed or"
                        + " arenas never closed (an open arena counts its chunks; other threads allocating meanwhile"
                        + " count too)");
            }
            long leakedArenas = after.leakedArenas() - before.leakedArenas();
            if (leakedArenas > 0) {
                leaks.add(leakedArenas + " arenas of MemAlloc.global() became unreachable without being closed during"
                        + " the test (the collector found them; their memory went back)");
            }
        }
        if (!leaks.isEmpty()) {
            throw new AssertionError("native memory leaked by " + context.getDisplayName() + ":\n- "
                    + String.join("\n- ", leaks));
        }
    }

    /** A name the builder takes (letters, digits, {@code . _ -}, at most 64) that says which test. */
    private static String name(ExtensionContext context) {
        String method = context.getTestMethod().map(m -> m.getName()).orElse("test").replaceAll("[^A-Za-z0-9._-]", "");
        return (method.length() > 40 ? method.substring(0, 40) : method) + "-" + TESTS.incrementAndGet();
    }

    /**
     * Closes {@code alloc} and {@return the leaks it had} Its statistics decide (blocks live, arenas the collector
     * found unclosed, arenas still open); MemAlloc's own report of the blocks never freed, which says where the oldest
     * were allocated, is taken from its logger when the logging goes through {@code java.util.logging}, to name them.
     */
    private static List<String> close(MemAlloc alloc) {
        List<String> leaks = new ArrayList<>();
        AllocatorStats stats = alloc.stats();
        if (stats.leakedArenas() > 0) {
            leaks.add(stats.leakedArenas() + " arenas the test opened on its MemAlloc became unreachable without being"
                    + " closed (the collector found them; their memory went back)");
        }
        Logger logger = Logger.getLogger("io.memalloc.MemAlloc");
        String mark = "MemAlloc '" + alloc.name() + "' closed with ";
        List<String> reports = new ArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getMessage() != null && record.getMessage().startsWith(mark)) {
                    synchronized (reports) {
                        reports.add(record.getMessage());
                    }
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(handler);
        try {
            alloc.close();
        } catch (IllegalStateException refused) {
            if (String.valueOf(refused.getMessage()).endsWith("closed already")) {
                return leaks; // the test closed it itself: nothing of it is left to leak
            }
            leaks.add("the test's MemAlloc could not close: " + refused.getMessage());
            return leaks;
        } finally {
            logger.removeHandler(handler);
        }
        if (stats.liveAllocations() > 0) {
            synchronized (reports) {
                leaks.add(reports.isEmpty() ? "MemAlloc '" + alloc.name() + "' closed with " + stats.liveAllocations()
                        + " blocks never freed (" + stats.allocatedBytes() + " bytes asked for)"
                        : String.join("\n  ", reports));
            }
        }
        return leaks;
    }
}
