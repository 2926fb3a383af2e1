package io.memalloc;

import static io.memalloc.internal.os.ProcMaps.permissionsAt;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Guard pages ({@code MemAlloc.builder().guardPages(true)}): each large block's mapping ends in a page that faults
 * when touched. The OS calls are seen through {@link FaultyOsMemory}, which also refuses one on request; on Linux
 * the page's protection is read back from {@code /proc/self/maps}. (Touching the guard would end the JVM, which is
 * the point of it, so no test here does.)
 */
class GuardPagesTest {
    private static final long REGION = 64 * 1024;
    /** Above half a region: a large block, with a mapping of its own. */
    private static final long LARGE = 100_000;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    private static MemAlloc guarded(FaultyOsMemory os, boolean hardened) {
        return MemAlloc.builder().regionSize(REGION).stripes(1).guardPages(true).hardened(hardened).build(os);
    }

    private static long roundUp(long size, long unit) {
        return (size + unit - 1) & -unit;
    }

    @Test
    void aLargeBlocksMappingEndsInAGuardPageRightAfterItsLastPage() {
        FaultyOsMemory os = new FaultyOsMemory();
        long page = os.pageSize();
        try (MemAlloc alloc = guarded(os, false)) {
            MemorySegment block = alloc.allocate(LARGE, 16);
            long guard = block.address() + roundUp(LARGE, os.granularity());
            assertThat(os.protectedRanges()).singleElement()
                    .satisfies(range -> assertThat(range).containsExactly(guard, page));
            assertThat(alloc.stats().mappedBytes()).isEqualTo(roundUp(LARGE + page, os.granularity()));
            block.fill((byte) 0x5A); // every byte asked for is the caller's
            assertThat(Contents.firstMismatch(block, 0x5A)).isEqualTo(-1);

            MemorySegment small = alloc.allocate(100, 16);
            assertThat(os.protectedRanges()).as("regions have no guards").hasSize(1);
            alloc.free(small);
            alloc.free(block);
            assertThat(alloc.stats().mappedBytes()).isEqualTo(alloc.stats().regionCount() * REGION);
            alloc.verifyHeap();
        }
        assertThat(os.mappedBytes()).isZero();
    }

    @Test
    void aReallocateGrowsInPlaceUpToTheGuardAndMovesPastIt() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = guarded(os, false)) {
            MemorySegment block = alloc.allocate(LARGE, 16);
            block.fill((byte) 7);
            long usable = roundUp(LARGE + os.pageSize(), os.granularity()) - os.pageSize();
            MemorySegment grown = alloc.reallocate(block, usable);
            assertThat(grown.address()).as("grown in place, up to the guard").isEqualTo(block.address());
            grown.set(JAVA_BYTE, usable - 1, (byte) 1); // the last byte before the guard
            MemorySegment moved = alloc.reallocate(grown, usable + 1);
            assertThat(moved.address()).as("one byte more would reach the guard: moved").isNotEqualTo(block.address());
            assertThat(Contents.firstMismatch(moved, LARGE, 7)).isEqualTo(-1);
            assertThat(os.protectedRanges()).hasSize(2); // the new mapping has its own guard
            alloc.free(moved);
            alloc.verifyHeap();
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX) // reads /proc/self/maps
    void theGuardPageIsNeitherReadableNorWritableAndTheBlockIs() throws IOException {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = guarded(os, true)) {
            MemorySegment block = alloc.allocate(LARGE, 16);
            long guard = block.address() + roundUp(LARGE + 8, os.pageSize()); // 8: the hardened canary
            assertThat(permissionsAt(guard)).isEqualTo("---p");
            assertThat(permissionsAt(guard - 1)).isEqualTo("rw-p");
            assertThat(permissionsAt(block.address())).isEqualTo("rw-p");
            alloc.free(block);
        }
    }

    @Test
    void aGuardTheOsRefusesIsOutOfMemoryErrorAndTheMappingGoesBack() {
        FaultyOsMemory os = new FaultyOsMemory().failProtect(1);
        try (MemAlloc alloc = guarded(os, false)) {
            assertThatThrownBy(() -> alloc.allocate(LARGE, 16)).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("the guard page after a large block of " + LARGE + " bytes")
                    .hasMessageContaining("injected: mprotect");
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(os.mappedBytes()).isZero();
            alloc.verifyHeap();

            MemorySegment block = alloc.allocate(LARGE, 16); // the fault is gone: served
            assertThat(os.protectedRanges()).hasSize(1);
            alloc.free(block);
        }
    }

    @Test
    void aHardenedAllocatorStillFindsAWritePastTheEndShortOfTheGuard() {
        FaultyOsMemory os = new FaultyOsMemory();
        String name;
        try (MemAlloc alloc = guarded(os, true)) {
            MemorySegment block = alloc.allocate(LARGE, 16);
            MemorySegment past = widened(block, LARGE + 1);
            past.set(JAVA_BYTE, LARGE, (byte) ~past.get(JAVA_BYTE, LARGE)); // changed whatever the canary's byte is
            assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("was written past its end");
            name = alloc.name();
        }
        assertThat(log.take()).as("the damaged block, refused by free, is left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 1, LARGE));
    }

    @SuppressWarnings("restricted")
    private static MemorySegment widened(MemorySegment segment, long byteSize) {
        return MemorySegment.ofAddress(segment.address()).reinterpret(byteSize);
    }

}
