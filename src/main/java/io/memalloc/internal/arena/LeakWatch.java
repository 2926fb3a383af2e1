package io.memalloc.internal.arena;

import io.memalloc.internal.arena.ArenaAllocator.Kind;
import io.memalloc.internal.event.LeakDetectedEvent;
import io.memalloc.internal.heap.Sites;
import java.lang.foreign.Arena;
import java.lang.ref.Cleaner;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Watches a confined or shared arena that is open: if it becomes unreachable without being closed, its memory goes
 * back to the heap and the leak is reported: a {@code LeakDetected} event for each arena, and a WARNING through
 * {@link System.Logger} for the first arena of each {@link LeakSite} (with where it was created when creation sites
 * are recorded), then a line with the count of those since, at most every {@link #REPORT_INTERVAL_SECONDS} seconds
 * ({@link LeakReports}): a program that drops arenas by the thousand would otherwise log a warning for each.
 *
 * <pre>
 *  segments ──┐
 *  MemArena ──┴──> scope (the JDK arena's session) <╌╌ phantom ╌╌ CLEANER ──> this: chunks, pool, site
 * </pre>
 *
 * <p>What is watched is the JDK arena's scope, not the {@code MemArena}: every segment holds the scope, so a segment
 * still in use keeps the memory in use however unreachable the arena itself is. Nothing here references the scope
 * or a segment, or the scope could never become unreachable. {@link #closed()} ends the watch when the arena is
 * closed normally.
 */
final class LeakWatch implements Runnable {
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");
    private static final Cleaner CLEANER =
            Cleaner.create(Thread.ofPlatform().name("MemAlloc arena leak watch").factory());
    /** The least time between two log lines of one {@link LeakSite}. */
    static final long REPORT_INTERVAL_SECONDS = 5;
    /**
     * How many sites are told apart, each keeping up to {@link LeakSite#KEY_FRAMES} frames: a bound on the Java heap
     * the counts take, however many places leak.
     */
    static final int MAX_SITES = 1024;
    /** Replaced only by a test, which runs the reports on a clock of its own ({@link #reportWith}). */
    private static volatile LeakReports<LeakSite> reports = reportsOn(System::nanoTime);

    private final Kind kind;
    private final ChunkPool pool;
    private final ArenaChunks chunks;
    /** A confined arena's first chunk, which it keeps outside {@link #chunks}; 0 for none. */
    private final long pooledBase;
    /** Where the arena was created, or null when sites are not recorded. */
    private final Throwable site;
    private final Runnable onRelease;
    private final Cleaner.Cleanable cleanable;
    /** Set by the arena's own thread before it ends the watch, so that the action then does nothing. */
    private boolean closed;

    private LeakWatch(Arena jdkArena, Kind kind, ChunkPool pool, ArenaChunks chunks, long pooledBase,
                      Throwable site, Runnable onRelease) {
        this.kind = kind;
        this.pool = pool;
        this.chunks = chunks;
        this.pooledBase = pooledBase;
        this.site = site;
        this.onRelease = onRelease;
        this.cleanable = CLEANER.register(jdkArena.scope(), this);
    }

    /** Starts watching the scope of {@code jdkArena}, whose memory is {@code pooledBase} (or 0) and {@code chunks}. */
    static LeakWatch start(Arena jdkArena, Kind kind, ChunkPool pool, ArenaChunks chunks, long pooledBase,
                           Throwable site, Runnable onRelease) {
        return new LeakWatch(jdkArena, kind, pool, chunks, pooledBase, site, onRelease);
    }

    /** {@return fresh reports of leaked arenas, on {@code nanoClock}} */
    static LeakReports<LeakSite> reportsOn(LongSupplier nanoClock) {
        return new LeakReports<>(nanoClock, TimeUnit.SECONDS.toNanos(REPORT_INTERVAL_SECONDS), MAX_SITES,
                LeakSite.ELSEWHERE);
    }

    /**
     * Has every leak from now on reported through {@code replacement}, for a test that moves its clock; {@return the
     * reports it replaces}, for the test to put back.
     */
    static LeakReports<LeakSite> reportWith(LeakReports<LeakSite> replacement) {
        LeakReports<LeakSite> before = reports;
        reports = replacement;
        return before;
    }

    /** The arena was closed and gave its memory back: the watch ends. */
    void closed() {
        closed = true;
        cleanable.clean();
    }

    /**
     * Run by the cleaner once the scope is unreachable, or by {@link #closed()}. The memory goes back first, so that
     * a report that fails (a logging handler that throws) cannot keep it, or keep the arena counted as open.
     */
    @Override
    public void run() {
        if (closed) {
            return;
        }
        int chunkCount;
        long heldBytes;
        RuntimeException refused = null;
        // The lock orders the arena's last chunk list before this read: the arena was used on other threads.
        synchronized (chunks) {
            chunkCount = chunks.count() + (pooledBase != 0 ? 1 : 0);
            heldBytes = chunks.heldBytes() + (pooledBase != 0 ? pool.chunkSize() : 0);
            try {
                if (pooledBase != 0) {
                    ChunkPool.zero(pooledBase, pool.chunkSize()); // how far it was used is the arena's secret
                    pool.give(pooledBase);
                }
                chunks.release(pool);
            } catch (RuntimeException e) { // an unmap the OS refused: the mapping stays counted and owed
                refused = e;
            } finally {
                pool.countLeakedArena(); // before the arena stops counting as open: a close then sees the leak
                onRelease.run();
            }
        }
        String what = String.format("a %s MemArena on MemAlloc '%s' became unreachable without being closed; its %d"
                + " chunks (%d bytes) go back now. %s", kind.eventName, pool.heapName(), chunkCount, heldBytes,
                site == null ? "Run with -Dmemalloc.leakSites=true (or MemAlloc.builder().leakSites(true)) to"
                        + " record where arenas are created" : "It was created " + Sites.firstCaller(site));
        try {
            log(what);
        } finally { // the event even when a logging handler throws: it is the one record of every arena
            LeakDetectedEvent.detected(pool.heapName(), what, chunkCount, heldBytes);
            if (refused != null) { // nobody to throw it to on the cleaner's thread
                LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + pool.heapName() + "': giving back a leaked"
                        + " arena's memory, the OS refused an unmap", refused);
            }
        }
    }

    /**
     * The allocator named {@code heapName} closed: its arenas leak no more. Logs the counts of its leaks not logged
     * yet, and forgets its sites.
     */
    static void allocatorClosed(String heapName) {
        for (LeakReports.Summary<LeakSite> summary : reports.forget(site -> site.heapName().equals(heapName))) {
            LOG.log(System.Logger.Level.WARNING, summary.key().summary(summary.number(), summary.count(),
                    summary.total()));
        }
    }

    /** Logs this leak in full if it is its site's first, and whatever counts of leaks are due. */
    private void log(String what) {
        LeakReports.Decision<LeakSite> decision = reports.leaked(LeakSite.of(pool.heapName(), kind, site));
        if (decision.inFull()) {
            String later = decision.key().laterLeaks(decision.number(), REPORT_INTERVAL_SECONDS);
            LOG.log(System.Logger.Level.WARNING, what + ". " + later, site == null ? null : Sites.fromCaller(site));
        }
        for (LeakReports.Summary<LeakSite> summary : decision.summaries()) {
            LOG.log(System.Logger.Level.WARNING, summary.key().summary(summary.number(), summary.count(),
                    summary.total()));
        }
    }
}
