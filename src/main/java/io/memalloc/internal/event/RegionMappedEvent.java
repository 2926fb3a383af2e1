package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/** A region, or a large block's own mapping, was mapped; its duration is the system call's. */
@Name("io.memalloc.RegionMapped")
@Label("Region Mapped")
@Category("MemAlloc")
@Description("MemAlloc mapped memory from the OS: a region, or a large block's own mapping (stripe -1)")
public final class RegionMappedEvent extends Event {
    @Label("Allocator")
    @Description("The allocator's name: global, or the name a private allocator was built with")
    String allocator;

    @Label("Address")
    @MemoryAddress
    long address;

    @Label("Size")
    @DataAmount
    long size;

    @Label("Stripe")
    @Description("The lock stripe the region belongs to; -1 for a large block's own mapping")
    int stripe;

    /** Commits the mapping timed since {@link #begin()}, if a recording wants it. */
    public void commit(String allocator, long address, long size, int stripe) {
        if (shouldCommit()) {
            this.allocator = allocator;
            this.address = address;
            this.size = size;
            this.stripe = stripe;
            commit();
        }
    }
}
