package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What MemAlloc logs during a test, held for the test to assert on instead of going to the console. A test class
 * whose tests make MemAlloc warn on purpose (a leak at close, an unmap the OS refused, a use after free) registers one
 * with {@code @RegisterExtension final LogCapture log = new LogCapture();} and asserts with {@link #take()}.
 *
 * <p>For each test it installs a handler on the {@code io.memalloc.MemAlloc} logger (where the library's
 * {@link System.Logger}s go through java.util.logging, the JDK's default backend) and turns its parent handlers off,
 * so nothing it logs reaches the console; afterwards it puts the logger back as it was. It captures what would have
 * been printed (the logger's level is left alone: INFO and up by default), from every thread, a cleaner's too.
 *
 * <p>Nothing is swallowed: a test fails if anything was logged that it did not {@link #take()}, and the failure
 * shows each record. So a warning that no test expected still fails the build, loudly, rather than being hidden.
 */
final class LogCapture implements BeforeEachCallback, AfterEachCallback {
    /** The logger of every System.Logger in the library (they are all named after {@link MemAlloc}). */
    static final String LOGGER = "io.memalloc.MemAlloc";

    /** Only for its formatMessage: the message as the console would print it, its parameters put in. */
    private static final Formatter MESSAGE = new SimpleFormatter();

    /** Held while capturing: java.util.logging keeps loggers weakly, and would forget the handler with it. */
    private Logger logger;
    private boolean parentHandlers;
    /** Guarded by itself: records come from any thread. */
    private final List<LogRecord> records = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            if (isLoggable(record)) {
                synchronized (records) {
                    records.add(record);
                }
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @Override
    public void beforeEach(ExtensionContext context) {
        logger = Logger.getLogger(LOGGER);
        parentHandlers = logger.getUseParentHandlers();
        logger.addHandler(handler);
        logger.setUseParentHandlers(false);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        logger.setUseParentHandlers(parentHandlers);
        logger.removeHandler(handler);
        logger = null;
        assertThat(takeRecords()).as("what MemAlloc logged during the test and the test did not take (and assert on)")
                .extracting(LogCapture::line).isEmpty();
    }

    /**
     * {@return each record logged since the last take, oldest first, as {@code "LEVEL: message"} (java.util.logging's
     * level names: System.Logger's WARNING is {@code WARNING}, its INFO is {@code INFO})} They are then the test's.
     */
    List<String> take() {
        return takeRecords().stream().map(LogCapture::line).toList();
    }

    /**
     * {@return the records logged since the last take, oldest first, with what was thrown} They are then the test's.
     */
    List<LogRecord> takeRecords() {
        synchronized (records) {
            List<LogRecord> taken = List.copyOf(records);
            records.clear();
            return taken;
        }
    }

    /** {@return the records so far whose message contains {@code text}, oldest first} They stay to be taken. */
    List<LogRecord> mentioning(String text) {
        synchronized (records) {
            return records.stream().filter(record -> record.getMessage().contains(text)).toList();
        }
    }

    /**
     * {@return how {@link #take()} gives the start of {@link MemAlloc#close()}'s warning about blocks never freed}
     * What follows it says where they were allocated, or how to learn that.
     */
    static String neverFreed(String allocator, long blocks, long bytes) {
        return "WARNING: MemAlloc '" + allocator + "' closed with " + blocks + " blocks never freed (" + bytes
                + " bytes asked for); they are unmapped now.";
    }

    /**
     * {@return how {@link #take()} gives the start of the warning about an unmap the OS refused during a call that
     * could not throw it} The mapping's address in hexadecimal follows it.
     */
    static String unmapRefused(String allocator) {
        return "WARNING: MemAlloc '" + allocator + "': the OS did not take back the mapping at 0x";
    }

    private static String line(LogRecord record) {
        return record.getLevel().getName() + ": " + MESSAGE.formatMessage(record);
    }
}
