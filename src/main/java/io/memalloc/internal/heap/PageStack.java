package io.memalloc.internal.heap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The pages of one {@link ThreadHeap} that other threads freed blocks into since its owner last looked: any thread
 * pushes, the owner takes them all at once (mimalloc's delayed free). A page is on a stack at most once: a push
 * first claims the page's own flag ({@link Page#claimStack}), which the taker clears before it collects; the link is
 * the page's own field, so a push allocates nothing.
 *
 * <pre>
 *  head ──> page ──nextPending──> page ──nextPending──> null
 *           push: CAS the head, from any thread          takeAll: swap the head for null, by the owner
 *           once {@link #close}d the head is CLOSED and every push fails: the owner has ended
 * </pre>
 */
final class PageStack {
    private static final VarHandle HEAD;
    /** The head once closed: the owner is gone and its pages are being abandoned. */
    private static final Object CLOSED = new Object();

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(PageStack.class, "head", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through HEAD
    private volatile Object head;

    /**
     * Pushes {@code page}, unless it is on a stack already (it is then collected from there: true); false, and
     * nothing pushed, once this stack is closed.
     */
    boolean push(Page page) {
        if (!page.claimStack()) {
            return true;
        }
        for (;;) {
            Object top = head;
            if (top == CLOSED) {
                page.leaveStack();
                return false;
            }
            page.nextPending = (Page) top;
            if (HEAD.compareAndSet(this, top, page)) {
                return true;
            }
        }
    }

    /** Takes every page pushed so far, the last pushed first; owner only. */
    Page takeAll() {
        for (;;) {
            Object top = head;
            if (top == null || top == CLOSED) {
                return null;
            }
            if (HEAD.compareAndSet(this, top, null)) {
                return (Page) top;
            }
        }
    }

    /** Takes every page pushed so far and fails every later push. */
    Page close() {
        Object top = HEAD.getAndSet(this, CLOSED);
        return top == CLOSED ? null : (Page) top;
    }
}
