package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LogCapture}, driven by hand as JUnit drives it (before each, after each): it holds what the library logs
 * away from the console, gives it to the test, fails the test on what the test did not take, and puts the logger
 * back as it was.
 */
class LogCaptureTest {
    private static final System.Logger LOG = System.getLogger(LogCapture.LOGGER);

    private final LogCapture capture = new LogCapture();
    /**
     * The parent of the library's logger while a test runs, held here (java.util.logging keeps loggers weakly), with
     * {@link #parentHandler} the only handler that what it gets reaches: the root's, the console's, never do.
     */
    private final Logger parent = Logger.getLogger("io.memalloc");
    /** What reached the parent: what would have reached the console. */
    private final List<LogRecord> reachedParent = new ArrayList<>();
    private final Handler parentHandler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (reachedParent) {
                reachedParent.add(record);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @BeforeEach
    void watchTheParentLogger() {
        assertThat(Logger.getLogger(LogCapture.LOGGER).getParent()).isSameAs(parent);
        parent.addHandler(parentHandler);
        parent.setUseParentHandlers(false);
    }

    @AfterEach
    void stopWatching() {
        parent.setUseParentHandlers(true);
        parent.removeHandler(parentHandler);
    }

    @Test
    void aWarningIsTheTestsAndNeverReachesTheParentLogger() throws Exception {
        capture.beforeEach(null);
        LOG.log(System.Logger.Level.WARNING, "MemAlloc 'x': a warning", new IllegalStateException("why"));
        Thread other = Thread.ofPlatform().start(() -> LOG.log(System.Logger.Level.INFO, "from another thread"));
        other.join();

        List<LogRecord> records = capture.takeRecords();
        assertThat(records).extracting(r -> r.getLevel().getName() + ": " + r.getMessage())
                .containsExactly("WARNING: MemAlloc 'x': a warning", "INFO: from another thread");
        assertThat(records.get(0).getThrown()).hasMessage("why");
        assertThat(capture.take()).as("taken once").isEmpty();
        capture.afterEach(null);
        assertThat(reachedParent).isEmpty();
    }

    @Test
    void takeGivesEachLineAsLevelAndMessageWithItsParametersIn() {
        capture.beforeEach(null);
        LOG.log(System.Logger.Level.WARNING, "{0} blocks never freed", 3);

        assertThat(capture.take()).containsExactly("WARNING: 3 blocks never freed");
        capture.afterEach(null);
    }

    @Test
    void whatTheTestDidNotTakeFailsItNamingEachRecord() {
        capture.beforeEach(null);
        LOG.log(System.Logger.Level.WARNING, "an unexpected warning");

        assertThatThrownBy(() -> capture.afterEach(null)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("did not take").hasMessageContaining("WARNING: an unexpected warning");
        assertThat(reachedParent).isEmpty();
    }

    @Test
    void whatWouldNotBePrintedIsNotCaptured() {
        capture.beforeEach(null);
        LOG.log(System.Logger.Level.DEBUG, "a diagnostic");

        assertThat(capture.take()).isEmpty();
        capture.afterEach(null);
    }

    @Test
    void afterwardsTheLoggerIsAsItWasAndWarningsGoOnToItsParentAgain() {
        Logger logger = Logger.getLogger(LogCapture.LOGGER);
        int handlers = logger.getHandlers().length;
        capture.beforeEach(null);
        assertThat(logger.getUseParentHandlers()).isFalse();
        capture.afterEach(null);

        assertThat(logger.getUseParentHandlers()).isTrue();
        assertThat(logger.getHandlers()).hasSize(handlers);
        LOG.log(System.Logger.Level.WARNING, "no longer captured");
        assertThat(reachedParent).extracting(LogRecord::getMessage).containsExactly("no longer captured");
    }
}
