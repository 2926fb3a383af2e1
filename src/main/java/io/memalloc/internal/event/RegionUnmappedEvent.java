package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/** A region, or a large block's own mapping, went back to the OS; its duration is the system call's. */
@Name("io.memalloc.RegionUnmapped")
@Label("Region Unmapped")
@Category("MemAlloc")
@Description("MemAlloc gave a mapping back to the OS: a region, or a large block's own mapping (stripe -1)")
public final class RegionUnmappedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Address")
    @MemoryAddress
    long address;

    @Label("Size")
    @DataAmount
    long size;

    @Label("Stripe")
    @Description("The lock stripe the region belonged to; -1 for a large block's own mapping")
    int stripe;

    /** Commits the unmapping timed since {@link #begin()}, if a recording wants it. */
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
