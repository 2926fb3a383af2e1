package io.memalloc.internal.event;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * A MemArena gave its memory back: closed, or collected if automatic. The event is begun when the arena opens, so
 * its duration is the arena's lifetime; an arena opened before the recording started is not reported.
 */
@Name("io.memalloc.ArenaClosed")
@Label("Arena Closed")
@Category("MemAlloc")
@Description("A MemArena gave its memory back; the duration is its lifetime")
public final class ArenaClosedEvent extends Event {
    @Label("Allocator")
    String allocator;

    @Label("Kind")
    @Description("confined, shared or automatic")
    String kind;

    @Label("Allocated Bytes")
    @Description("Bytes the arena handed out, alignment padding included")
    @DataAmount
    long allocatedBytes;

    @Label("Chunks")
    @Description("Chunks, and blocks of their own for big requests, the arena held")
    int chunks;

    /** A begun event for an arena opening now, or null when no recording wants one: the arena then pays nothing. */
    public static ArenaClosedEvent opening() {
        ArenaClosedEvent event = new ArenaClosedEvent();
        if (!event.isEnabled()) {
            return null;
        }
        event.begin();
        return event;
    }

    /** Commits the event {@link #opening()} began, if there is one and a recording wants it. */
    public static void closed(ArenaClosedEvent event, String allocator, String kind, long allocatedBytes,
                              int chunks) {
        if (event != null && event.shouldCommit()) {
            event.allocator = allocator;
            event.kind = kind;
            event.allocatedBytes = allocatedBytes;
            event.chunks = chunks;
            event.commit();
        }
    }
}
