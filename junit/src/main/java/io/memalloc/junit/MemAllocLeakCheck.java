package io.memalloc.junit;

import io.memalloc.AllocatorStats;
import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
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
 * a {@link MemArena} (or an {@link Arena}) is a confined arena on it, which the extension closes after the test, as
 * a caller closes the arena it hands to the code it calls. After the test, a block of the allocator never freed is a
 * leak (the allocator is closed, and the failure says where the oldest blocks were allocated), and so is an arena
 * the test opened on it and never closed:
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
 * it than before. Other threads allocating meanwhile count too, so it suits tests that allocate on their own thread.
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
        return type == MemAlloc.class || type == MemArena.class || type == Arena.class;
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
        MemArena arena = memory.alloc.newConfinedArena();
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
            for (MemArena arena : memory.arenas) {
                if (arena.scope().isAlive()) { // the test may have closed it itself
                    arena.close();
                }
            }
            String leaked = close(memory.alloc);
            if (leaked != null) {
                leaks.add(leaked);
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
     * Closes {@code alloc}; {@return what it reports as never freed, or null} The report is MemAlloc's own warning
     * (where the oldest blocks were allocated), taken from its logger rather than printed: the failure carries it.
     */
    private static String close(MemAlloc alloc) {
        Logger logger = Logger.getLogger("io.memalloc.MemAlloc");
        String mark = "MemAlloc '" + alloc.name() + "' closed with ";
        List<String> reports = new ArrayList<>();
        boolean parents = logger.getUseParentHandlers();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getMessage() != null && record.getMessage().startsWith(mark)) {
                    synchronized (reports) {
                        reports.add(record.getMessage());
                    }
                } else if (parents && logger.getParent() != null) { // another's record: where it would have gone
                    for (Handler parent : logger.getParent().getHandlers()) {
                        parent.publish(record);
                    }
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(handler);
        logger.setUseParentHandlers(false);
        try {
            alloc.close();
        } catch (IllegalStateException stillOpen) { // an arena of its own the test opened and never closed
            return "the test's MemAlloc could not close: " + stillOpen.getMessage();
        } finally {
            logger.removeHandler(handler);
            logger.setUseParentHandlers(parents);
        }
        synchronized (reports) {
            return reports.isEmpty() ? null : String.join("\n  ", reports);
        }
    }
}
