package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** {@code trim()} gave free memory back to the OS; its duration is the whole trim's. */
@Name("io.memalloc.Trim")
@Label("Trim")
@Category("MemAlloc")
@Description("MemAlloc.trim(): empty regions and spare mappings unmapped, free pages purged")
public final class TrimEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Bytes Given Back")
    @DataAmount
    long bytesGivenBack;

    /** Commits the trim timed since {@link #begin()}, if a recording wants it. */
    public void commit(String allocator, long bytesGivenBack) {
        if (shouldCommit()) {
            this.allocator = allocator;
            this.bytesGivenBack = bytesGivenBack;
            commit();
        }
    }
}
