/**
 * JFR events, category "MemAlloc": what the allocator did that a production recording should show.
 *
 * <pre>
 *  event                          when                                          fields
 *  io.memalloc.RegionMapped       a region, or a large block's own mapping,      allocator, address, size, stripe
 *                                 was mapped (duration: the system call)         (-1 for a large block)
 *  io.memalloc.RegionUnmapped     one was given back to the OS                   allocator, address, size, stripe
 *  io.memalloc.Trim               trim() ran                                     allocator, bytesGivenBack
 *  io.memalloc.ArenaClosed        a MemArena gave its memory back                allocator, kind, allocatedBytes,
 *                                 (duration: its lifetime)                       chunks
 *  io.memalloc.AllocationFailed   a request ended in OutOfMemoryError            allocator, size, reason
 *  io.memalloc.FaultDetected      free or reallocate refused a segment; a        allocator, operation, address, fault
 *                                 hardened heap found a write past the end,
 *                                 after free, or over a header (a damaged block)
 *  io.memalloc.LeakDetected       memory was found never given back: blocks at   allocator, what, liveBlocks,
 *                                 close, an arena unreachable and not closed     liveBytes
 * </pre>
 *
 * <p>Each event is built only where it fires and committed only when a recording asks for it. Before a recording
 * starts, the JDK leaves these classes uninstrumented: {@code isEnabled()} is then {@code false} and the JIT drops
 * the event altogether, so the allocator pays nothing. The public face, the arena layer and the heap use this
 * package; it uses nothing of MemAlloc.
 */
package io.memalloc.internal.event;
