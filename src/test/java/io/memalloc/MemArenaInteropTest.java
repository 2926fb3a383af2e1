package io.memalloc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** MemArena where FFM takes an Arena or a SegmentAllocator: real libc calls, a struct by value, an upcall. */
@SuppressWarnings("restricted") // downcallHandle and upcallStub: the test is run with native access enabled
class MemArenaInteropTest {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout DIV_T = MemoryLayout.structLayout(JAVA_INT.withName("quot"),
            JAVA_INT.withName("rem"));
    private static final MethodHandle STRLEN = downcall("strlen", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
    private static final MethodHandle DIV = downcall("div", FunctionDescriptor.of(DIV_T, JAVA_INT, JAVA_INT));
    private static final MethodHandle QSORT = downcall("qsort",
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final FunctionDescriptor COMPARE_INTS = FunctionDescriptor.of(JAVA_INT,
            ADDRESS.withTargetLayout(JAVA_INT), ADDRESS.withTargetLayout(JAVA_INT));

    /** Set by the comparator when it is asked to try closing the arena in the middle of qsort. */
    private static final AtomicReference<Arena> CLOSE_DURING_CALL = new AtomicReference<>();
    private static final AtomicReference<Throwable> CLOSE_FAILURE = new AtomicReference<>();

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }

    private static MemArena open(String kind) {
        return kind.equals("confined") ? MemArena.ofConfined() : MemArena.ofShared();
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void strlenOfAStringFromAllocateFrom(String kind) throws Throwable {
        try (MemArena arena = open(kind)) {
            MemorySegment hello = arena.allocateFrom("hello, MemArena");

            assertThat((long) STRLEN.invokeExact(hello)).isEqualTo(15);
            assertThat(hello.scope()).isEqualTo(arena.scope());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void aStructReturnedByValueLandsInTheArena(String kind) throws Throwable {
        try (MemArena arena = open(kind)) {
            long before = arena.allocatedBytes();

            MemorySegment result = (MemorySegment) DIV.invokeExact((SegmentAllocator) arena, 17, 5);

            assertThat(result.get(JAVA_INT, 0)).isEqualTo(3);
            assertThat(result.get(JAVA_INT, 4)).isEqualTo(2);
            assertThat(result.scope()).isEqualTo(arena.scope());
            assertThat(arena.allocatedBytes()).isGreaterThanOrEqualTo(before + DIV_T.byteSize());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void qsortWithAnUpcallSortsAnArenaArray(String kind) throws Throwable {
        int[] values = {42, -7, 19, 0, 1000, 3, -7, 8};
        try (MemArena arena = open(kind)) {
            MemorySegment array = arena.allocateFrom(JAVA_INT, values);
            MemorySegment comparator = comparator(arena);

            QSORT.invokeExact(array, (long) values.length, JAVA_INT.byteSize(), comparator);

            assertThat(array.toArray(JAVA_INT)).containsExactly(-7, -7, 0, 3, 8, 19, 42, 1000);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"confined", "shared"})
    void closingWhileADowncallUsesASegmentFailsAsTheJdksDoes(String kind) throws Throwable {
        MemArena arena = open(kind);
        MemorySegment array = arena.allocateFrom(JAVA_INT, 3, 1, 2);
        CLOSE_FAILURE.set(null);
        CLOSE_DURING_CALL.set(arena);
        try {
            QSORT.invokeExact(array, 3L, JAVA_INT.byteSize(), comparator(arena));
        } finally {
            CLOSE_DURING_CALL.set(null);
        }

        assertThat(CLOSE_FAILURE.get()).isInstanceOf(IllegalStateException.class);
        assertThat(arena.scope().isAlive()).isTrue();
        assertThat(array.toArray(JAVA_INT)).containsExactly(1, 2, 3);
        arena.close();
        assertThat(arena.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> array.get(JAVA_INT, 0)).isInstanceOf(IllegalStateException.class);
    }

    private static MemorySegment comparator(Arena arena) throws ReflectiveOperationException {
        MethodHandle compare = MethodHandles.lookup().findStatic(MemArenaInteropTest.class, "compare",
                MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        return LINKER.upcallStub(compare, COMPARE_INTS, arena);
    }

    @SuppressWarnings("UnusedMethod") // called by qsort, through the upcall stub
    private static int compare(MemorySegment a, MemorySegment b) {
        Arena closeMe = CLOSE_DURING_CALL.getAndSet(null);
        if (closeMe != null) {
            try {
                closeMe.close();
            } catch (IllegalStateException e) {
                CLOSE_FAILURE.set(e);
            }
        }
        return Integer.compare(a.get(JAVA_INT, 0), b.get(JAVA_INT, 0));
    }
}
