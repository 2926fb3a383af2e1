package io.memalloc.internal.arena;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The arenas' leak reports on a clock that a test moves, so that what is logged once the interval has passed can be
 * tested without waiting for it: fresh reports (nothing counted yet) from {@link #install()} until {@link #close()}
 * puts back the ones before. The clock stands still until {@link #passInterval()}.
 */
public final class LeakReportClock implements AutoCloseable {
    private final AtomicLong nanos = new AtomicLong();
    private final LeakReports<LeakSite> replaced;

    private LeakReportClock() {
        replaced = LeakWatch.reportWith(LeakWatch.reportsOn(nanos::get));
    }

    /** {@return a clock that the arenas' leak reports run on until it is closed} */
    public static LeakReportClock install() {
        return new LeakReportClock();
    }

    /** Moves the clock on by the least time between two reports of one site. */
    public void passInterval() {
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(LeakWatch.REPORT_INTERVAL_SECONDS));
    }

    @Override
    public void close() {
        LeakWatch.reportWith(replaced);
    }
}
