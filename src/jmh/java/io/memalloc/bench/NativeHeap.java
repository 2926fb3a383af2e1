package io.memalloc.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A C allocator called through FFM downcalls: libc, jemalloc or mimalloc, with plain or {@code critical} downcalls.
 * Addresses are plain {@code long}s, so that what is measured is the allocator and the downcall, not segment objects.
 *
 * <p>{@link #trim()} is each library's way to give free memory back to the OS, always a plain downcall: glibc's
 * {@code malloc_trim(0)}, jemalloc's {@code mallctl("arena.4096.purge", NULL, NULL, NULL, 0)} (4096 is
 * {@code MALLCTL_ARENAS_ALL}), mimalloc's {@code mi_collect(true)}.
 *
 * <p>A record, so that HotSpot trusts its fields as final: see {@link Libc} for why that matters.
 *
 * @param purgeAll the address of the C string {@code "arena.4096.purge"}, for jemalloc's {@code mallctl}; 0 for
 *                 the others
 */
@SuppressWarnings("restricted") // downcalls to the C allocators compared against
record NativeHeap(Library library, MethodHandle mallocHandle, MethodHandle freeHandle, MethodHandle reallocHandle,
        MethodHandle trimHandle, long purgeAll) {
    /** The C allocators the suite compares against. */
    enum Library {
        LIBC(null, "malloc", "free", "realloc", "malloc_trim", FunctionDescriptor.of(JAVA_INT, JAVA_LONG)),
        JEMALLOC("libjemalloc.so.2", "malloc", "free", "realloc", "mallctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG)),
        MIMALLOC("libmimalloc.so.2", "mi_malloc", "mi_free", "mi_realloc", "mi_collect",
                FunctionDescriptor.ofVoid(JAVA_BOOLEAN));

        final String file;
        final String malloc;
        final String free;
        final String realloc;
        /** The function {@link NativeHeap#trim()} calls, and its C signature. */
        final String trim;
        @SuppressWarnings("ImmutableEnumChecker") // FunctionDescriptor is immutable, though not annotated so
        final FunctionDescriptor trimDescriptor;

        Library(String file, String malloc, String free, String realloc, String trim,
                FunctionDescriptor trimDescriptor) {
            this.file = file;
            this.malloc = malloc;
            this.free = free;
            this.realloc = realloc;
            this.trim = trim;
            this.trimDescriptor = trimDescriptor;
        }

        /** The library's symbols, or why they cannot be had here. */
        SymbolLookup lookup() {
            return file == null
                    ? Linker.nativeLinker().defaultLookup()
                    : SymbolLookup.libraryLookup(file, Arena.global());
        }

        /** How the names of benchmark methods that use this library start. */
        String methodPrefix() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Why this library cannot be loaded in this JVM, or empty when it can. */
        Optional<String> unavailable() {
            try {
                lookup();
                return Optional.empty();
            } catch (IllegalArgumentException e) {
                return Optional.of(methodPrefix() + " is not loadable here ("
                        + e.getMessage() + "); install it (apt-get install libjemalloc2 libmimalloc2.0) and start "
                        + "with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384, as ./bench does");
            }
        }
    }

    /** {@code MALLCTL_ARENAS_ALL}'s purge, for jemalloc's {@code mallctl}. */
    private static final String JEMALLOC_PURGE_ALL = "arena.4096.purge";

    /**
     * Each library's heaps, made on first use only (so that a benchmark of one library never loads another), and
     * held in static finals: a benchmark that reaches its heap through one (say {@code NativeHeap.Jemalloc.PLAIN})
     * lets the JIT fold the downcall handles into constants, as a program with {@code static final} handles gets.
     * A handle read from an ordinary field is not a constant, and invoking it costs about 15 ns per malloc and free
     * pair more, as much as the allocator itself.
     */
    static final class Libc {
        static final NativeHeap PLAIN = NativeHeap.of(Library.LIBC, false);
        static final NativeHeap CRITICAL = NativeHeap.of(Library.LIBC, true);

        private Libc() {}
    }

    /** jemalloc's heaps; see {@link Libc}. */
    static final class Jemalloc {
        static final NativeHeap PLAIN = NativeHeap.of(Library.JEMALLOC, false);
        static final NativeHeap CRITICAL = NativeHeap.of(Library.JEMALLOC, true);

        private Jemalloc() {}
    }

    /** mimalloc's heaps; see {@link Libc}. */
    static final class Mimalloc {
        static final NativeHeap PLAIN = NativeHeap.of(Library.MIMALLOC, false);
        static final NativeHeap CRITICAL = NativeHeap.of(Library.MIMALLOC, true);

        private Mimalloc() {}
    }

    /** The heap of a library with plain downcalls, from its holder. */
    static NativeHeap plain(Library library) {
        return switch (library) {
            case LIBC -> Libc.PLAIN;
            case JEMALLOC -> Jemalloc.PLAIN;
            case MIMALLOC -> Mimalloc.PLAIN;
        };
    }

    /** The heap of a library with critical downcalls, from its holder. */
    static NativeHeap critical(Library library) {
        return switch (library) {
            case LIBC -> Libc.CRITICAL;
            case JEMALLOC -> Jemalloc.CRITICAL;
            case MIMALLOC -> Mimalloc.CRITICAL;
        };
    }

    /**
     * Links the library that a benchmark uses, if any, by its method's name ({@code ...Class.jemallocCritical} uses
     * jemalloc): a {@code @Setup} calls it with {@code BenchmarkParams.getBenchmark()}, so that the first downcall's
     * linking (over 100 ms in a fresh JVM) is not measured, and no other library is loaded.
     */
    static void linkFor(String benchmark) {
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        for (Library library : Library.values()) {
            if (method.startsWith(library.methodPrefix())) {
                for (NativeHeap heap : List.of(plain(library), critical(library))) {
                    heap.free(heap.malloc(16));
                }
            }
        }
    }

    /**
     * Links a library's functions; use the holders ({@link Libc}, {@link Jemalloc}, {@link Mimalloc}) rather than
     * calling this on a hot path's behalf.
     */
    static NativeHeap of(Library library, boolean critical) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = library.lookup();
        Linker.Option[] options = critical ? new Linker.Option[] {Linker.Option.critical(false)} : new Linker.Option[0];
        return new NativeHeap(library,
                linker.downcallHandle(find(lookup, library.malloc), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG),
                        options),
                linker.downcallHandle(find(lookup, library.free), FunctionDescriptor.ofVoid(JAVA_LONG), options),
                linker.downcallHandle(find(lookup, library.realloc),
                        FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG), options),
                linker.downcallHandle(find(lookup, library.trim), library.trimDescriptor),
                library == Library.JEMALLOC ? Arena.global().allocateFrom(JEMALLOC_PURGE_ALL).address() : 0);
    }

    private static MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new IllegalStateException("no symbol " + name));
    }

    long malloc(long size) {
        try {
            long address = (long) mallocHandle.invokeExact(size);
            if (address == 0) {
                throw new OutOfMemoryError("malloc(" + size + ") returned NULL");
            }
            return address;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long realloc(long address, long size) {
        try {
            long moved = (long) reallocHandle.invokeExact(address, size);
            if (moved == 0) {
                throw new OutOfMemoryError("realloc(" + size + ") returned NULL");
            }
            return moved;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void free(long address) {
        try {
            freeHandle.invokeExact(address);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Gives the library's free memory back to the OS, as far as it can (see the class comment). */
    void trim() {
        try {
            switch (library) {
                case LIBC -> {
                    // 1 when memory was given back, 0 when there was none to give: either is a success.
                    int _ = (int) trimHandle.invokeExact(0L);
                }
                case JEMALLOC -> {
                    int error = (int) trimHandle.invokeExact(purgeAll, 0L, 0L, 0L, 0L);
                    if (error != 0) {
                        throw new IllegalStateException("mallctl(\"" + JEMALLOC_PURGE_ALL + "\") failed: " + error);
                    }
                }
                case MIMALLOC -> trimHandle.invokeExact(true);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
