package io.memalloc;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * What MemAlloc logs while a test runs, collected for the test to check and kept off the console: from
 * {@link #capture()} until {@link #close()}, which puts the logger back as it was. MemAlloc logs through
 * {@link System.Logger}, which goes to {@code java.util.logging} by default.
 */
final class CapturedLog implements AutoCloseable {
    /** Held for the test's duration: java.util.logging keeps loggers weakly, and would forget the handler. */
    private final Logger logger = Logger.getLogger("io.memalloc.MemAlloc");
    private final boolean usedParentHandlers = logger.getUseParentHandlers();
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private CapturedLog() {
        logger.addHandler(handler);
        logger.setUseParentHandlers(false);
    }

    /** {@return the log of logger "io.memalloc.MemAlloc", captured from now until closed} */
    static CapturedLog capture() {
        return new CapturedLog();
    }

    /** {@return the records so far whose message contains {@code text}, in the order logged} */
    List<LogRecord> mentioning(String text) {
        return records.stream().filter(record -> record.getMessage().contains(text)).toList();
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
        logger.setUseParentHandlers(usedParentHandlers);
    }
}
