package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/**
 * The allocator refused a segment it was given back, a sign of a bug in the caller (a double free, a pointer into
 * a block, a segment of another allocator). The stack trace says where.
 */
@Name("io.memalloc.FaultDetected")
@Label("Fault Detected")
@Category("MemAlloc")
@Description("MemAlloc refused a segment given to free or reallocate: a double free, an interior or foreign pointer")
public final class FaultDetectedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Operation")
    @Description("free or reallocate")
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
