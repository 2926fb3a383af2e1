package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The rows of the bad-input table (module-info-docs/reliability.md) about closed allocators, closed arenas and
 * blocks that went back: each call gives the exception the table says, and reads no memory that is not ours.
 */
class ClosedAllocatorTest {

    @Test
    void aClosedAllocatorRefusesEveryCallThatWouldTouchItsHeap() {
        MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build();
        MemorySegment block = alloc.allocate(64, 8);
        alloc.free(block);
        MemorySegment live = alloc.allocate(32, 8);
        alloc.free(live);
        alloc.close();

        assertThatThrownBy(() -> alloc.allocate(8, 8)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> alloc.allocateUninitialized(8, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.allocateFrom("x")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> alloc.reallocate(block, 128)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::trim).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::newConfinedArena).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::newSharedArena).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::newAutoArena).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(alloc::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed already");
        // Its segments are dead with it, as a closed arena's are.
        assertThatThrownBy(() -> block.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aClosedAllocatorStillDescribesItselfAsEmpty() {
        MemAlloc alloc = MemAlloc.builder().name("closed-one").build();
        alloc.free(alloc.allocate(100, 8));
        alloc.close();

        AllocatorStats stats = alloc.stats();
        assertThat(stats.mappedBytes()).isZero();
        assertThat(stats.regionCount()).isZero();
        assertThat(alloc.heapMap()).contains("0 B mapped");
        assertThat(alloc.name()).isEqualTo("closed-one");
        assertThat(alloc).hasToString("MemAlloc[closed-one, closed, " + stats + "]");
    }

    @Test
    void theGlobalAllocatorCannotBeClosed() {
        assertThatThrownBy(() -> MemAlloc.global().close()).isInstanceOf(UnsupportedOperationException.class);
        MemorySegment works = MemAlloc.global().allocate(8, 8);
        MemAlloc.global().free(works);
    }

    @Test
    void aClosedArenaRefusesAllocationAndASecondCloseAndAnAutomaticOneCannotBeClosed() {
        try (MemAlloc alloc = MemAlloc.builder().build()) {
            for (MemArena arena : new MemArena[] {alloc.newConfinedArena(), alloc.newSharedArena()}) {
                MemorySegment segment = arena.allocate(16, 8);
                arena.close();
                assertThatThrownBy(() -> arena.allocate(8, 8)).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(() -> arena.allocateUninitialized(8, 8))
                        .isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(arena::close).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0))
                        .isInstanceOf(IllegalStateException.class);
            }
        }
        MemArena automatic = MemArena.ofAuto(); // on the global allocator: one of its own would keep it open
        assertThatThrownBy(automatic::close).isInstanceOf(UnsupportedOperationException.class);
        assertThat(automatic.allocate(8, 8).scope().isAlive()).isTrue();
    }

    @Test
    void aReallocateThatCannotBeMetLeavesTheBlockAsItWas() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).maxMappedBytes(1 << 20).build()) {
            MemorySegment block = alloc.allocate(100, 8);
            Contents.fill(block, 9);
            assertThatThrownBy(() -> alloc.reallocate(block, 2 << 20)).isInstanceOf(OutOfMemoryError.class);
            assertThatThrownBy(() -> alloc.reallocate(block, Long.MAX_VALUE)).isInstanceOf(OutOfMemoryError.class);
            assertThat(Contents.firstMismatch(block, 9)).isEqualTo(-1);
            alloc.free(block);
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
        }
    }
}
