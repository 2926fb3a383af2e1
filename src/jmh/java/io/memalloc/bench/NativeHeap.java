package io.memalloc.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A C allocator called through FFM downcalls: libc, jemalloc or mimalloc, with plain or {@code critical} downcalls.
 * Addresses are plain {@code long}s, so that what is measured is the allocator and the downcall, not segment objects.
 */
@SuppressWarnings("restricted") // downcalls to the C allocators compared against
final class NativeHeap {
    /** The C allocators the suite compares against. */
    enum Library {
        LIBC(null, "malloc", "free", "realloc"),
        JEMALLOC("libjemalloc.so.2", "malloc", "free", "realloc"),
        MIMALLOC("libmimalloc.so.2", "mi_malloc", "mi_free", "mi_realloc");

        final String file;
        final String malloc;
        final String free;
        final String realloc;

        Library(String file, String malloc, String free, String realloc) {
            this.file = file;
            this.malloc = malloc;
            this.free = free;
            this.realloc = realloc;
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

    private final MethodHandle malloc;
    private final MethodHandle free;
    private final MethodHandle realloc;

    NativeHeap(Library library, boolean critical) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = library.lookup();
        Linker.Option[] options = critical ? new Linker.Option[] {Linker.Option.critical(false)} : new Linker.Option[0];
        malloc = linker.downcallHandle(find(lookup, library.malloc),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG), options);
        free = linker.downcallHandle(find(lookup, library.free), FunctionDescriptor.ofVoid(JAVA_LONG), options);
        realloc = linker.downcallHandle(find(lookup, library.realloc),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG), options);
    }

    private static MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new IllegalStateException("no symbol " + name));
    }

    long malloc(long size) {
        try {
            long address = (long) malloc.invokeExact(size);
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
            long moved = (long) realloc.invokeExact(address, size);
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
            free.invokeExact(address);
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
