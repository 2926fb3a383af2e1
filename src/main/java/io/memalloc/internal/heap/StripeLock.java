package io.memalloc.internal.heap;

import java.util.concurrent.locks.ReentrantLock;

/**
 * A stripe's lock: a {@link ReentrantLock} that spins a little before it parks.
 *
 * <pre>
 *  lock():  free? take it  --no--&gt;  spin: up to SPINS x (onSpinWait; free? take it)  --still held--&gt;  park
 * </pre>
 *
 * <p>A stripe is held for a free or a refill: tens of nanoseconds to a few microseconds. A thread that parks for
 * it pays a context switch each way, ten or more microseconds, far longer than the wait; on two threads freeing into
 * each other's stripes (the larson workload) parking took about 40% of their time. Spinning for about as long as
 * a refill takes (each spin reads the lock and pauses; it tries to take it only when it looks free, so that the
 * spinners do not pull the lock's cache line from its holder) lets the waiter go on as soon as the holder lets go,
 * and still parks when the holder was descheduled. {@link #tryLock()} and the rest are {@link ReentrantLock}'s.
 */
final class StripeLock extends ReentrantLock {
    private static final long serialVersionUID = 1L;
    /** About two microseconds of {@link Thread#onSpinWait()} on current x86 and ARM cores. */
    static final int SPINS = 100;

    @Override
    public void lock() {
        for (int i = 0; i < SPINS; i++) {
            if (!isLocked() && tryLock()) {
                return;
            }
            Thread.onSpinWait();
        }
        super.lock();
    }
}
