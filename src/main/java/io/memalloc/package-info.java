/**
 * MemAlloc: a native-memory allocator for the Foreign Function &amp; Memory API.
 *
 * <p>{@link io.memalloc.MemAlloc} allocates, frees and reallocates native memory from regions it maps from the
 * operating system, thread-safe: the Java counterpart of a Rust {@code GlobalAlloc}. {@link io.memalloc.MemAlloc#global()}
 * is the process-wide instance.
 *
 * {@snippet lang = java file = "JavadocSnippets.java" region = "package"}
 *
 * <p>Everything else in the module (the heap, the OS layer) is in packages it does not export.
 */
package io.memalloc;
