/**
 * MemAlloc: a native-memory allocator for the Foreign Function &amp; Memory API.
 *
 * <p>The module exports one package, {@link io.memalloc}. It makes downcalls to the operating system (mmap, munmap
 * and madvise on Linux and macOS; VirtualAlloc and VirtualFree on Windows), so applications run it with
 * {@code --enable-native-access=io.memalloc} to keep the JDK from warning about restricted methods.
 */
module io.memalloc {
    requires java.management;
    requires jdk.jfr;

    exports io.memalloc;
}
