package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where memory was handed out, for leak reports: recorded only when asked for ({@code memalloc.leakSites}, or
 * {@code MemAlloc.builder().leakSites(true)}), since taking a stack trace costs microseconds.
 *
 * <pre>
 *  live blocks:  address ──> Site(sequence, stack trace)     put by allocate, moved by reallocate, removed by free
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

    private final Map<Long, Site> live = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();

    /** Where something was made: a stack trace, with what it stands for as its message. */
    public static final class Site extends Throwable {
        private static final long serialVersionUID = 1;
        /** Order of making, so that a report can name the oldest first. */
        private final long sequence;

        Site(String what, long sequence) {
            super(what);
            this.sequence = sequence;
        }
    }

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

    /** Records that the block at {@code address} was handed out here. */
    public void allocated(long address) {
        live.put(address, new Site("block 0x" + Long.toHexString(address) + " allocated here",
                sequence.incrementAndGet()));
    }

    /**
     * Forgets the block at {@code address}, before it is freed or moved (after, another thread could have taken the
     * address and recorded its own site); returns its site, or null.
     */
    public Site forget(long address) {
        return live.remove(address);
    }

    /**
     * Records {@code site} (from {@link #forget}) for the block at {@code address}: where a refused free left it, or
     * where a reallocate moved it. An exception that leaves it unclear whether the block was freed (an unmap the OS
     * refused afterwards) is not followed by this: a site missing from a report misleads less than a wrong one.
     */
    public void restore(long address, Site site) {
        if (site != null) {
            live.put(address, site);
        }
    }

    /** {@return the sites of at most {@code count} live blocks, the oldest first} */
    public List<Site> oldest(int count) {
        List<Site> sites = new ArrayList<>(live.values());
        sites.sort(Comparator.comparingLong(site -> site.sequence));
        return sites.subList(0, Math.min(count, sites.size()));
    }
}
