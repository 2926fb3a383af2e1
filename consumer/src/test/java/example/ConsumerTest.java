package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** What a user's first test of MemAlloc does: an arena in place of the JDK's, and the global allocator. */
class ConsumerTest {
    @Test
    void anArenaAndTheGlobalAllocatorWorkFromAnotherProject() {
        MemorySegment kept;
        try (Arena arena = MemArena.ofConfined()) {
            kept = arena.allocateFrom("hello");
            assertEquals("hello", kept.getString(0));
        }
        MemorySegment dead = kept;
        assertThrows(IllegalStateException.class, () -> dead.get(ValueLayout.JAVA_BYTE, 0));

        MemorySegment ints = MemAlloc.global().allocate(ValueLayout.JAVA_INT, 4);
        ints.setAtIndex(ValueLayout.JAVA_INT, 3, 42);
        assertEquals(42, ints.getAtIndex(ValueLayout.JAVA_INT, 3));
        MemAlloc.global().free(ints);
    }
}
