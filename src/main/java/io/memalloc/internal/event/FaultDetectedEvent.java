package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/**
 * MemAlloc found a bug of its caller's: a segment refused by free or reallocate (a double free, a pointer into a
 * block, a segment of another allocator), or, in a hardened heap, a write past a block's end (its canary, checked at
 * free and reallocate), a write after free (found when the block leaves the quarantine), or a write over the
 * allocator's own words: a damaged header, footer or free-list link, found by the operation that was about to use
 * it. The stack trace says where it was found; for a write after free or over a header, that is not where it was
 * written.
 */
@Name("io.memalloc.FaultDetected")
@Label("Fault Detected")
@Category("MemAlloc")
@Description("A bug of the caller's: a double free, an interior or foreign pointer, a write past the end or after free")
public final class FaultDetectedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Operation")
    @Description("free, reallocate, quarantine (a freed block found written to, or damaged, when it left the"
            + " quarantine); for a damaged header also allocate, trim or purge")
    String operation;

    @Label("Address")
    @MemoryAddress
    long address;

    @Label("Fault")
    @Description("What was wrong, as the exception says it")
    String fault;

    /** Records a refused segment, if a recording wants it. */
    public static void detected(String allocator, String operation, long address, RuntimeException fault) {
        FaultDetectedEvent event = new FaultDetectedEvent();
        if (event.shouldCommit()) {
            event.allocator = allocator;
            event.operation = operation;
            event.address = address;
            event.fault = fault.getMessage();
            event.commit();
        }
    }
}
