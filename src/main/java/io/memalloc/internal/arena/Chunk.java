package io.memalloc.internal.arena;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A piece of memory an arena holds: a chunk it slices allocations from, or a block of its own for a request too big
 * for a chunk.
 *
 * <pre>
 *  base                      base + used                      base + size
 *  +-------------------------+--------------------------------+
 *  | handed out (and padding)| still zero                     |
 *  +-------------------------+--------------------------------+
 * </pre>
 *
 * {@code used} is where the next slice may start. A shared arena's threads advance it with a CAS; a confined arena
 * keeps it in a plain field of its own and writes it here when it moves on to another chunk or closes.
 */
final class Chunk {
    private static final VarHandle USED;

    static {
        try {
            USED = MethodHandles.lookup().findVarHandle(Chunk.class, "used", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final long base;
    final long size;
    /** A first chunk of the pool's size: zeroed as far as used and given back to the pool when the arena closes. */
    final boolean pooled;
    private volatile long used;

    Chunk(long base, long size, boolean pooled, long used) {
        this.base = base;
        this.size = size;
        this.pooled = pooled;
        this.used = used;
    }

    long used() {
        return used;
    }

    void setUsed(long used) {
        this.used = used;
    }

    boolean casUsed(long expected, long used) {
        return USED.compareAndSet(this, expected, used);
    }
}
