package io.memalloc.internal.heap;

/**
 * The first of several failures, the later ones suppressed in it: for work that goes on past a failure, so that
 * one refusal of the OS does not leave the rest of a trim or a close undone, and reports it at the end.
 */
public final class Failures {
    private RuntimeException first;

    public void add(RuntimeException failure) {
        if (first == null) {
            first = failure;
        } else {
            first.addSuppressed(failure);
        }
    }

    /** The first failure, or null when there was none. */
    public RuntimeException first() {
        return first;
    }

    public void throwIfAny() {
        if (first != null) {
            throw first;
        }
    }
}
