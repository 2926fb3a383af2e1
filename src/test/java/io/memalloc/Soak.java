package io.memalloc;

import java.util.concurrent.TimeUnit;

/**
 * How long the time-bounded tests ({@link StressTest}, {@link RaceTest}) run: the system property
 * {@code memallocTests.soakSeconds}, 2 by default. The POM hands it to Surefire's forked JVM, so that a long soak is
 * {@code ./build -DmemallocTests.soakSeconds=60 -Dtest=StressTest test}.
 */
final class Soak {
    static final String PROPERTY = "memallocTests.soakSeconds";
    private static final long DEFAULT_SECONDS = 2;

    private Soak() {}

    /** {@return the seconds each time-bounded test runs for} */
    static long seconds() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            return DEFAULT_SECONDS;
        }
        long seconds;
        try {
            seconds = Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PROPERTY + " is '" + value + "', not a count of seconds", e);
        }
        if (seconds <= 0) {
            throw new IllegalArgumentException(PROPERTY + " is " + seconds + ", not a positive count of seconds");
        }
        return seconds;
    }

    /** {@return the {@link System#nanoTime()} at which a test that starts now stops} */
    static long deadline() {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds());
    }

    /** {@return whether {@code deadline} (from {@link #deadline()}) has passed} */
    static boolean over(long deadline) {
        return System.nanoTime() - deadline >= 0;
    }

    /** {@return how long to wait for a worker that stops at the deadline: the soak, and a minute to spare} */
    static long hangGuardSeconds() {
        return seconds() + 60;
    }
}
