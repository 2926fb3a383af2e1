package io.memalloc.internal.heap;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Where memory was handed out, for leak reports: recorded only when asked for ({@code memalloc.leakSites}, or
 * {@code MemAlloc.builder().leakSites(true)}), since taking a stack trace costs microseconds.
 *
 * <pre>
 *  live blocks:  address ──> Site, in {@link BlockSites}
 *  an arena:     one Site, kept by its LeakWatch
 * </pre>
 *
 * A site is a {@link Throwable} that is never thrown: its stack trace is where it was made, and a logger prints it.
 */
public final class Sites {
    /** Frames in these packages, or of these classes and their nested ones, are MemAlloc's or the JDK's way in. */
    private static final List<String> OWN_PACKAGES = List.of("io.memalloc.internal.", "java.lang.foreign.",
            "jdk.internal.");
    private static final Set<String> OWN_CLASSES = Set.of("io.memalloc.MemAlloc", "io.memalloc.MemArena");

    /** Where something was made: a stack trace, with what it stands for as its message. */
    public static final class Site extends Throwable {
        private static final long serialVersionUID = 1;
        /** Order of making, so that a report can name the oldest first. */
        private final long sequence;

        Site(String what, long sequence) {
            super(what);
            this.sequence = sequence;
        }

        long sequence() {
            return sequence;
        }
    }

    private Sites() {}

    /** {@return the call stack here, as the site of {@code what}} */
    public static Site here(String what) {
        return new Site(what, 0);
    }

    /** {@return "at Frame(File.java:12)", the first frame of {@code site} that is the caller's own, not MemAlloc's} */
    public static String firstCaller(Throwable site) {
        StackTraceElement[] frames = site.getStackTrace();
        int first = firstCallerIndex(frames);
        if (first == frames.length) {
            return "at an unknown place";
        }
        return at(frames[first]);
    }

    /** {@return "at Frame(File.java:12)"} */
    public static String at(StackTraceElement frame) {
        return "at " + frame.getClassName() + "." + frame.getMethodName() + "(" + frame.getFileName() + ":"
                + frame.getLineNumber() + ")";
    }

    /**
     * {@return at most {@code max} frames of {@code site}, from the caller's first} The frames {@link #fromCaller}
     * keeps, cut short: what tells one place apart from another, for counting leaks by where they came from.
     */
    public static List<StackTraceElement> callerFrames(Throwable site, int max) {
        StackTraceElement[] frames = site.getStackTrace();
        int first = firstCallerIndex(frames);
        if (first == frames.length) { // as fromCaller does: the whole trace says more than none
            first = 0;
        }
        return List.of(Arrays.copyOfRange(frames, first, Math.min(frames.length, first + max)));
    }

    /**
     * {@return {@code site}, its stack trace now starting at the caller's first frame} Done when a site is reported,
     * not when it is recorded: the frames are only turned into objects then.
     */
    public static Throwable fromCaller(Throwable site) {
        StackTraceElement[] frames = site.getStackTrace();
        int first = firstCallerIndex(frames);
        if (first < frames.length) { // else no frame is the caller's: the whole trace says more than none
            site.setStackTrace(Arrays.copyOfRange(frames, first, frames.length));
        }
        return site;
    }

    private static int firstCallerIndex(StackTraceElement[] frames) {
        int i = 0;
        for (; i < frames.length; i++) {
            String className = frames[i].getClassName();
            int nested = className.indexOf('$');
            if (OWN_PACKAGES.stream().noneMatch(className::startsWith)
                    && !OWN_CLASSES.contains(nested < 0 ? className : className.substring(0, nested))) {
                break;
            }
        }
        return i;
    }
}
