package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Memory was found that its owner never gave back, for instance live blocks at a private allocator's close. */
@Name("io.memalloc.LeakDetected")
@Label("Leak Detected")
@Category("MemAlloc")
@Description("Memory MemAlloc handed out was never given back")
public final class LeakDetectedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("What")
    @Description("What leaked, and where it was found")
    String what;

    @Label("Live Blocks")
    long liveBlocks;

    @Label("Live Bytes")
    @Description("Bytes asked for by the blocks never freed")
    @DataAmount
    long liveBytes;

    /** Records a leak, if a recording wants it. */
    public static void detected(String allocator, String what, long liveBlocks, long liveBytes) {
        LeakDetectedEvent event = new LeakDetectedEvent();
        if (event.shouldCommit()) {
            event.allocator = allocator;
            event.what = what;
            event.liveBlocks = liveBlocks;
            event.liveBytes = liveBytes;
            event.commit();
        }
    }
}
