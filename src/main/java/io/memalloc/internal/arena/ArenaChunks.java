package io.memalloc.internal.arena;

import io.memalloc.internal.heap.Failures;
import java.util.ArrayList;
import java.util.List;

/**
 * Every chunk and block an arena holds, as addresses only, and how to give them all back when it closes.
 *
 * <p>It holds no segment: for an automatic arena it is what the cleanup action keeps alive, and a segment would keep
 * the arena's scope reachable, so that it could never be collected. Not thread-safe: a confined arena uses it from
 * its thread, a shared one under its lock.
 */
final class ArenaChunks {
    /** Made with the first chunk: a confined arena whose requests fit in its pooled chunk never needs one. */
    private List<Chunk> chunks;
    private boolean released;

    /** Synchronized so that a {@link LeakWatch}, on the cleaner's thread, sees every chunk a confined arena took. */
    synchronized void add(Chunk chunk) {
        if (chunks == null) {
            chunks = new ArrayList<>();
        }
        chunks.add(chunk);
    }

    int count() {
        return chunks == null ? 0 : chunks.size();
    }

    /** Bytes held: the sizes of the chunks and blocks. */
    long heldBytes() {
        long held = 0;
        for (int i = 0; i < count(); i++) {
            held += chunks.get(i).size;
        }
        return held;
    }

    /** Bytes handed out, alignment padding included. */
    long usedBytes() {
        if (chunks == null) {
            return 0;
        }
        long used = 0;
        for (Chunk chunk : chunks) {
            used += chunk.used();
        }
        return used;
    }

    /**
     * Gives everything back: a pooled chunk is zeroed as far as it was used and returned to the pool, so that the
     * next arena finds it zero; the rest goes back to the heap, which zeroes recycled bytes when it hands them out.
     */
    void release(ChunkPool pool) {
        if (released) {
            return;
        }
        released = true;
        if (chunks == null) {
            return;
        }
        Failures failures = new Failures();
        for (Chunk chunk : chunks) {
            try {
                if (chunk.pooled) {
                    ChunkPool.zero(chunk.base, chunk.used());
                    pool.give(chunk.base);
                } else {
                    pool.free(chunk.base);
                }
            } catch (RuntimeException e) { // give back the rest all the same, then report the first failure
                failures.add(e);
            }
        }
        chunks.clear();
        failures.throwIfAny();
    }
}
