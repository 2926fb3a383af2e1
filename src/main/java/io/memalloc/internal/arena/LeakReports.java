package io.memalloc.internal.arena;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Decides which leaks are logged, so that a program that drops arenas by the thousand gets a few lines, not one per
 * arena: the first leak of a key (where the arenas were created) in full, later ones counted, and their count
 * logged at most once per interval per key. A leak's JFR event is not this class's business: it stays one per arena.
 *
 * <pre>
 *  time ──────────────────────────────────────────────────────────────────────────────────────&gt;
 *          |&lt;───── interval ─────&gt;|
 *  key A:  leak   leak leak leak     leak               leak
 *          full   counted            4 more, 5 in all   counted
 *  key B:                                                     leak
 *                                                             full (A's 1 not due yet)
 *  key C:                                                            (an interval after A's report) leak
 *                                                                    full, and the sweep: A 1 more, 6 in all
 * </pre>
 *
 * <p>A count still pending when its key stops leaking is logged with a later leak of any key: a leak that comes an
 * interval or more after the last sweep sweeps all keys, and logs the count of each whose last report is an interval
 * old (the sweep at most once per interval, so that a stream of leaks does not walk the keys each time). The keys of
 * an allocator that closes are {@link #forget forgotten}, their pending counts logged then. A count pending when
 * nothing leaks again and its allocator never closes (the global one) is never logged; the JFR events still have
 * every arena.
 *
 * <p>The keys are bounded: once {@code maxKeys} keys are known, the leaks of new keys are counted under one
 * {@code overflow} key, whose first leak is logged in full like any other. Keys are dropped only when forgotten, so
 * a key that was reported in full is not reported in full again while its allocator lives.
 *
 * <p>Thread-safe: the cleaner's thread is the only caller today, but a lock costs nothing next to a leak.
 *
 * @param <K> the key: equal for leaks that should be counted together
 */
final class LeakReports<K> {
    private final LongSupplier nanoClock;
    private final long intervalNanos;
    private final int maxKeys;
    private final K overflow;
    /** In the order first seen, so that summaries come in that order. Guarded by {@code this}. */
    private final Map<K, Tally> tallies = new LinkedHashMap<>();
    /** When every key was last looked at for a summary due. Guarded by {@code this}. */
    private long lastSweep;
    /** The number the next new key gets: numbers are not reused when keys are forgotten. Guarded by {@code this}. */
    private int nextNumber = 1;

    /**
     * @param nanoClock     the time in nanoseconds, of {@link System#nanoTime()}'s kind (only differences count)
     * @param intervalNanos the least time between two reports of one key
     * @param maxKeys       how many keys are told apart at most, besides {@code overflow}
     * @param overflow      the key that counts the leaks of keys beyond {@code maxKeys}
     */
    LeakReports(LongSupplier nanoClock, long intervalNanos, int maxKeys, K overflow) {
        if (intervalNanos < 0 || maxKeys < 0) {
            throw new IllegalArgumentException("interval " + intervalNanos + " ns or maxKeys " + maxKeys
                    + " is negative");
        }
        this.nanoClock = nanoClock;
        this.intervalNanos = intervalNanos;
        this.maxKeys = maxKeys;
        this.overflow = overflow;
        this.lastSweep = nanoClock.getAsLong();
    }

    /**
     * What to log for one leak.
     *
     * @param key       the key the leak was counted under: the one given, or the overflow key
     * @param number    the key's number, from 1 in the order first seen: it ties a summary to its key's full report
     *                  when their words alone would not (two stacks through one place, say)
     * @param inFull    whether this leak is to be logged in full: the first of {@code key}
     * @param summaries the counts due now, of this key or others, in the order their keys were first seen
     */
    record Decision<K>(K key, int number, boolean inFull, List<Summary<K>> summaries) {
    }

    /** {@code count} leaks of {@code key} (number {@code number}) since its last report; {@code total} in all. */
    record Summary<K>(K key, int number, long count, long total) {
    }

    /** Counts one leak of {@code key} and {@return what to log for it}. */
    synchronized Decision<K> leaked(K key) {
        long now = nanoClock.getAsLong();
        K countedAs = tallies.containsKey(key) || tallies.size() < maxKeys ? key : overflow;
        Tally tally = tallies.get(countedAs);
        boolean inFull = tally == null;
        if (inFull) {
            tally = new Tally(nextNumber++, now);
            tallies.put(countedAs, tally);
        } else {
            tally.pending++;
        }
        tally.total++;
        List<Summary<K>> summaries = new ArrayList<>(1);
        if (now - lastSweep >= intervalNanos) {
            lastSweep = now;
            for (Map.Entry<K, Tally> entry : tallies.entrySet()) {
                summarizeIfDue(entry.getKey(), entry.getValue(), now, summaries);
            }
        } else {
            summarizeIfDue(countedAs, tally, now, summaries);
        }
        return new Decision<>(countedAs, tally.number, inFull, List.copyOf(summaries));
    }

    /**
     * Forgets the keys {@code ended} matches (those of an allocator that closed: its arenas leak no more, and its
     * keys would take room for good) and {@return their counts still pending}, for the caller to log now rather than
     * never.
     */
    synchronized List<Summary<K>> forget(Predicate<K> ended) {
        List<Summary<K>> pending = new ArrayList<>();
        for (Iterator<Map.Entry<K, Tally>> entries = tallies.entrySet().iterator(); entries.hasNext(); ) {
            Map.Entry<K, Tally> entry = entries.next();
            if (ended.test(entry.getKey())) {
                Tally tally = entry.getValue();
                if (tally.pending > 0) {
                    pending.add(new Summary<>(entry.getKey(), tally.number, tally.pending, tally.total));
                }
                entries.remove();
            }
        }
        return pending;
    }

    private void summarizeIfDue(K key, Tally tally, long now, List<Summary<K>> summaries) {
        if (tally.pending > 0 && now - tally.lastReport >= intervalNanos) {
            summaries.add(new Summary<>(key, tally.number, tally.pending, tally.total));
            tally.pending = 0;
            tally.lastReport = now;
        }
    }

    /** One key's counts. */
    private static final class Tally {
        final int number;
        /** When the key was last logged, in full or summed up. */
        long lastReport;
        /** Leaks since then, not logged. */
        long pending;
        long total;

        Tally(int number, long now) {
            this.number = number;
            this.lastReport = now;
        }
    }
}
