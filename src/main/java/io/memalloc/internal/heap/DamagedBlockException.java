package io.memalloc.internal.heap;

/**
 * A hardened heap found a block whose header, footer or neighbours do not agree with what it knows out of band (the
 * region's bounds and live bits, the in-use header's check bits): memory of the allocator's was written over. It is
 * an {@link IllegalStateException}, as the caller sees it; the heap catches it where an operation ends, to report
 * the block in a {@code FaultDetected} event.
 */
final class DamagedBlockException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** The block found damaged. */
    private final long block;
    /** Whether a FaultDetected event has told of it, so that no second one does. */
    private boolean reported;

    DamagedBlockException(long block, String message) {
        super(message);
        this.block = block;
    }

    /** The address of the block found damaged (its header, not its payload). */
    long block() {
        return block;
    }

    /** Marks it reported; false when it was already. */
    boolean markReported() {
        boolean first = !reported;
        reported = true;
        return first;
    }
}
