package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A request ended in an {@link OutOfMemoryError}. */
@Name("io.memalloc.AllocationFailed")
@Label("Allocation Failed")
@Category("MemAlloc")
@Description("A MemAlloc request could not be met and threw OutOfMemoryError")
public final class AllocationFailedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Size")
    @DataAmount
    long size;

    @Label("Reason")
    String reason;

    /** Records a failed request, if a recording wants it. */
    public static void failed(String allocator, long size, Throwable reason) {
        AllocationFailedEvent event = new AllocationFailedEvent();
        if (event.shouldCommit()) {
            event.allocator = allocator;
            event.size = size;
            event.reason = reason.getMessage();
            event.commit();
        }
    }
}
