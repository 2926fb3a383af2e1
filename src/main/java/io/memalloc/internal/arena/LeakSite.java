package io.memalloc.internal.arena;

import io.memalloc.internal.arena.ArenaAllocator.Kind;
import io.memalloc.internal.heap.Sites;
import java.util.List;

/**
 * Where leaked arenas came from, as the key {@link LeakReports} counts them by, and in words for the log.
 *
 * <pre>
 *  sites recorded:      ("pool-a", confined, [App.open(App.java:12), App.main(App.java:5), ...])   one per place
 *  sites not recorded:  ("pool-a", confined, [])                                   one per allocator name and kind
 *  past the bound:      ELSEWHERE                                                  every place not told apart
 * </pre>
 *
 * <p>The allocator is kept by name, not by reference, so that a key never keeps a closed allocator's objects alive.
 * The frames start at the caller's first (those above it are MemAlloc's own, the same for every arena of a kind)
 * and are cut at {@link #KEY_FRAMES}: enough to tell call paths apart, and a bound on a key's size, since a stack
 * may be a thousand frames deep.
 *
 * @param heapName the allocator's name; empty for {@link #ELSEWHERE}
 * @param kind     the arena's kind; null for {@link #ELSEWHERE}
 * @param frames   where the arena was created, from the caller's first frame; empty when sites are not recorded
 */
record LeakSite(String heapName, Kind kind, List<StackTraceElement> frames) {
    /** How many frames of a site a key keeps at most. */
    static final int KEY_FRAMES = 32;
    /** The key of the leaks from places beyond the bound on keys. */
    static final LeakSite ELSEWHERE = new LeakSite("", null, List.of());

    LeakSite {
        frames = List.copyOf(frames);
    }

    /** {@return the key of an arena of {@code kind} on {@code heapName}, created at {@code site} (or null: unknown)} */
    static LeakSite of(String heapName, Kind kind, Throwable site) {
        return new LeakSite(heapName, kind, site == null ? List.of() : Sites.callerFrames(site, KEY_FRAMES));
    }

    /**
     * {@return what the first report of this key adds, so that the reader knows later leaks are summed up} A key with
     * frames is named by {@code number} too: two stacks through one place would read alike in their summaries.
     */
    String laterLeaks(int number, long intervalSeconds) {
        String counted = " are counted, and their number logged at most every " + intervalSeconds + " s.";
        if (kind == null) { // ELSEWHERE, the one key without a kind
            return "Leaks from more places than MemAlloc tells apart: from now on, leaks from places not yet reported"
                    + counted;
        }
        return frames.isEmpty() ? "Later leaks of " + kind.eventName + " arenas on MemAlloc '" + heapName + "'"
                + counted : "Later leaks from this stack (leak site " + number + ")" + counted;
    }

    /** {@return the line that sums up {@code count} more leaks of this key, number {@code number}, of {@code total}} */
    String summary(int number, long count, long total) {
        String arenas = count == 1 ? " MemArena" : " MemArenas";
        String leaked = " became unreachable without being closed since the last report (" + total + " in all);"
                + " their memory went back.";
        if (kind == null) { // ELSEWHERE, the one key without a kind
            return count + " more" + arenas + " created at places not told apart" + leaked;
        }
        return "MemAlloc '" + heapName + "': " + count + " more " + kind.eventName + arenas
                + (frames.isEmpty() ? " (where created is not recorded: -Dmemalloc.leakSites=true records it)"
                        : " from leak site " + number + " (created " + Sites.at(frames.get(0)) + ")") + leaked;
    }
}
