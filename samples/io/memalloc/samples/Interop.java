package io.memalloc.samples;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.memalloc.MemArena;
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
import java.util.Arrays;

/**
 * Calls libc through the Linker with a MemArena where FFM code would use {@code Arena.ofConfined()}: a string for
 * {@code strlen}, a struct returned by value from {@code div}, and {@code qsort} calling back into Java.
 */
@SuppressWarnings("restricted") // downcalls and an upcall: run with --enable-native-access=io.memalloc.samples
public final class Interop {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout DIV_T = MemoryLayout.structLayout(
            JAVA_INT.withName("quot"), JAVA_INT.withName("rem"));

    private Interop() {}

    public static void main(String[] args) {
        MethodHandle strlen = downcall("strlen", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        MethodHandle div = downcall("div", FunctionDescriptor.of(DIV_T, JAVA_INT, JAVA_INT));
        MethodHandle qsort = downcall("qsort", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));

        try (Arena arena = MemArena.ofConfined()) { // the one change from Arena.ofConfined()
            MemorySegment text = arena.allocateFrom("Regions, blocks and arenas");
            long length = (long) strlen.invokeExact(text);
            System.out.printf("strlen(\"%s\") = %d   (string at 0x%x)%n", text.getString(0), length, text.address());

            MemorySegment quotient = (MemorySegment) div.invokeExact((SegmentAllocator) arena, 47, 5);
            System.out.printf("div(47, 5) = { quot = %d, rem = %d }   (div_t returned by value into 0x%x)%n",
                    quotient.get(JAVA_INT, 0), quotient.get(JAVA_INT, 4), quotient.address());

            int[] numbers = {31, -4, 15, 92, 6, 53, -58, 97, 0};
            MemorySegment array = arena.allocateFrom(JAVA_INT, numbers);
            MethodHandle compare = MethodHandles.lookup().findStatic(Interop.class, "compare",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
            MemorySegment comparator = LINKER.upcallStub(compare, FunctionDescriptor.of(JAVA_INT,
                    ADDRESS.withTargetLayout(JAVA_INT), ADDRESS.withTargetLayout(JAVA_INT)), arena);
            qsort.invokeExact(array, (long) numbers.length, JAVA_INT.byteSize(), comparator);
            System.out.printf("qsort(%s) with a Java comparator = %s%n", Arrays.toString(numbers),
                    Arrays.toString(array.toArray(JAVA_INT)));

            if (arena instanceof MemArena memArena) {
                System.out.printf("the arena holds %d chunk(s) and handed out %d bytes%n", memArena.chunkCount(),
                        memArena.allocatedBytes());
            }
        } catch (Throwable t) {
            throw new IllegalStateException("a libc call failed", t);
        }
        System.out.println("arena closed: every segment above is now inaccessible, its memory back in MemAlloc");
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new IllegalStateException("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor);
    }

    @SuppressWarnings("UnusedMethod") // called by qsort, through the upcall stub
    private static int compare(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.get(JAVA_INT, 0), b.get(JAVA_INT, 0));
    }
}
