package io.memalloc.internal.os;

import static io.memalloc.internal.os.Mappings.mapOrFail;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.RecordingWindowsCalls.VirtualAlloc;
import io.memalloc.internal.os.RecordingWindowsCalls.VirtualFree;
import io.memalloc.internal.os.RecordingWindowsCalls.VirtualProtect;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link WindowsMemory} against a recording fake of the kernel32 calls: 4 KiB pages, 64 KiB granularity. */
class WindowsMemoryTest {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GRANULE = 64 * KIB;
    private static final long BASE = RecordingWindowsCalls.FIRST_ADDRESS;

    // The Windows numbers, written out here so that a wrong constant in WindowsMemory fails these tests.
    private static final int MEM_RESERVE = 0x2000;
    private static final int MEM_RESERVE_COMMIT = 0x3000;
    private static final int MEM_RELEASE = 0x8000;
    private static final int MEM_RESET = 0x80000;
    private static final int PAGE_NOACCESS = 1;
    private static final int PAGE_READWRITE = 4;

    private final RecordingWindowsCalls calls = new RecordingWindowsCalls();

    @Test
    void takesPageSizeAndGranularityFromGetSystemInfo() {
        WindowsMemory memory = new WindowsMemory(calls);

        assertThat(memory.pageSize()).isEqualTo(4 * KIB);
        assertThat(memory.granularity()).isEqualTo(64 * KIB);
        assertThat(calls.calls()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 8, 4096, 65536})
    void alignmentUpToTheGranularityIsOneReserveAndCommit(long alignment) {
        WindowsMemory memory = new WindowsMemory(calls);

        long address = mapOrFail(memory, 3 * GRANULE, alignment);

        assertThat(address).isEqualTo(BASE);
        assertThat(calls.calls())
                .containsExactly(new VirtualAlloc(0, 3 * GRANULE, MEM_RESERVE_COMMIT, PAGE_READWRITE));
    }

    @ParameterizedTest
    @ValueSource(longs = {4096, 8192, 65536 + 4096, 100_000})
    void aSizeThatIsNoMultipleOfTheGranularityIsIllegalArgumentException(long size) {
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(size, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(Long.toString(size))
                .hasMessageContaining("65536");
        assertThat(calls.calls()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -1, 3, 96 * 1024, Long.MIN_VALUE})
    void anAlignmentThatIsNoPowerOfTwoIsIllegalArgumentException(long alignment) {
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(GRANULE, alignment))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("alignment " + alignment);
        assertThat(calls.calls()).isEmpty();
    }

    @Test
    void largeAlignmentReservesProbesReleasesAndCommitsAtTheAlignedAddress() {
        long size = 2 * MIB;
        long alignment = 4 * MIB;
        long probe = BASE + 5 * GRANULE;
        calls.returnNextAllocsAt(probe);
        WindowsMemory memory = new WindowsMemory(calls);

        long address = mapOrFail(memory, size, alignment);

        long aligned = BASE + alignment;
        assertThat(address).isEqualTo(aligned);
        assertThat(address % alignment).isZero();
        assertThat(calls.calls()).containsExactly(
                new VirtualAlloc(0, size + alignment - GRANULE, MEM_RESERVE, PAGE_NOACCESS),
                new VirtualFree(probe, 0, MEM_RELEASE),
                new VirtualAlloc(aligned, size, MEM_RESERVE_COMMIT, PAGE_READWRITE));
        // The aligned range lies inside the probe reservation.
        assertThat(aligned).isGreaterThanOrEqualTo(probe);
        assertThat(aligned + size).isLessThanOrEqualTo(probe + size + alignment - GRANULE);
    }

    @Test
    void anAlreadyAlignedProbeIsUsedAsIs() {
        calls.returnNextAllocsAt(BASE);
        WindowsMemory memory = new WindowsMemory(calls);

        long address = mapOrFail(memory, GRANULE, 2 * GRANULE);

        assertThat(address).isEqualTo(BASE);
        assertThat(calls.calls()).containsExactly(
                new VirtualAlloc(0, 2 * GRANULE, MEM_RESERVE, PAGE_NOACCESS),
                new VirtualFree(BASE, 0, MEM_RELEASE),
                new VirtualAlloc(BASE, GRANULE, MEM_RESERVE_COMMIT, PAGE_READWRITE));
    }

    @Test
    void aLostRaceForTheAlignedAddressIsRetriedWithANewProbe() {
        long size = MIB;
        long alignment = MIB;
        long firstProbe = BASE + GRANULE;
        long secondProbe = BASE + 8 * MIB + 3 * GRANULE;
        calls.returnNextAllocsAt(firstProbe, secondProbe).loseRaces(1);
        WindowsMemory memory = new WindowsMemory(calls);

        long address = mapOrFail(memory, size, alignment);

        assertThat(address).isEqualTo(BASE + 9 * MIB);
        assertThat(calls.calls()).containsExactly(
                new VirtualAlloc(0, size + alignment - GRANULE, MEM_RESERVE, PAGE_NOACCESS),
                new VirtualFree(firstProbe, 0, MEM_RELEASE),
                new VirtualAlloc(BASE + MIB, size, MEM_RESERVE_COMMIT, PAGE_READWRITE),
                new VirtualAlloc(0, size + alignment - GRANULE, MEM_RESERVE, PAGE_NOACCESS),
                new VirtualFree(secondProbe, 0, MEM_RELEASE),
                new VirtualAlloc(BASE + 9 * MIB, size, MEM_RESERVE_COMMIT, PAGE_READWRITE));
    }

    @Test
    void losingEveryRaceIsOutOfMemoryErrorAfterSixteenTries() {
        calls.loseRaces(Integer.MAX_VALUE);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining(Long.toString(MIB))
                .hasMessageContaining("16 times");
        assertThat(calls.calls()).hasSize(16 * 3);
        assertThat(calls.calls().stream()
                        .filter(c -> c instanceof VirtualAlloc a && a.allocationType() == MEM_RESERVE))
                .hasSize(16)
                .allMatch(c -> c.equals(new VirtualAlloc(0, 3 * MIB - GRANULE, MEM_RESERVE, PAGE_NOACCESS)));
        assertThat(calls.calls().stream().filter(c -> c instanceof VirtualFree)).hasSize(16);
        assertThat(WindowsMemory.ALIGNED_TRIES).isEqualTo(16);
    }

    @Test
    void anAlignedCommitThatFailsForAnotherReasonIsOutOfMemoryErrorAtOnce() {
        calls.loseRaces(1, RecordingWindowsCalls.ERROR_NOT_ENOUGH_MEMORY);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("error 8");
        assertThat(calls.calls()).hasSize(3);
    }

    @Test
    void losingFifteenRacesStillSucceeds() {
        calls.loseRaces(15);
        WindowsMemory memory = new WindowsMemory(calls);

        long address = mapOrFail(memory, MIB, 2 * MIB);

        assertThat(address % (2 * MIB)).isZero();
        assertThat(calls.calls()).hasSize(16 * 3);
        assertThat(calls.calls().getLast())
                .isEqualTo(new VirtualAlloc(address, MIB, MEM_RESERVE_COMMIT, PAGE_READWRITE));
    }

    @Test
    void unmapReleasesTheWholeReservation() {
        WindowsMemory memory = new WindowsMemory(calls);

        memory.unmap(BASE + GRANULE, 5 * GRANULE);

        assertThat(calls.calls()).containsExactly(new VirtualFree(BASE + GRANULE, 0, MEM_RELEASE));
    }

    @Test
    void purgeIsMemReset() {
        WindowsMemory memory = new WindowsMemory(calls);

        memory.purge(BASE + 4 * KIB, 12 * KIB);

        assertThat(calls.calls()).containsExactly(new VirtualAlloc(BASE + 4 * KIB, 12 * KIB, MEM_RESET, PAGE_READWRITE));
    }

    @Test
    void aFailedCommitIsOutOfMemoryError() {
        calls.failNextVirtualAlloc(RecordingWindowsCalls.ERROR_NOT_ENOUGH_MEMORY);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(2 * GRANULE, GRANULE))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining(Long.toString(2 * GRANULE))
                .hasMessageContaining("error 8");
    }

    @Test
    void aFailedProbeReservationIsOutOfMemoryErrorWithoutFurtherCalls() {
        calls.failNextVirtualAlloc(RecordingWindowsCalls.ERROR_NOT_ENOUGH_MEMORY);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining(Long.toString(3 * MIB - GRANULE))
                .hasMessageContaining("error 8");
        assertThat(calls.calls()).containsExactly(new VirtualAlloc(0, 3 * MIB - GRANULE, MEM_RESERVE, PAGE_NOACCESS));
    }

    @Test
    void aFailedReleaseOfTheProbeIsIllegalStateException() {
        calls.returnNextAllocsAt(BASE + GRANULE).failNextVirtualFree(RecordingWindowsCalls.ERROR_INVALID_ADDRESS);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("VirtualFree(0x" + Long.toHexString(BASE + GRANULE))
                .hasMessageContaining("error 487");
        assertThat(calls.calls()).hasSize(2);
    }

    @Test
    void aFailedUnmapIsIllegalStateException() {
        calls.failNextVirtualFree(RecordingWindowsCalls.ERROR_INVALID_ADDRESS);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.unmap(BASE, GRANULE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("VirtualFree(0x" + Long.toHexString(BASE) + ", 0, MEM_RELEASE)")
                .hasMessageContaining("error 487");
    }

    @Test
    void protectIsVirtualProtectNoAccess() {
        WindowsMemory memory = new WindowsMemory(calls);

        memory.protect(BASE + 60 * KIB, 4 * KIB);

        assertThat(calls.calls()).containsExactly(new VirtualProtect(BASE + 60 * KIB, 4 * KIB, PAGE_NOACCESS));
    }

    @Test
    void aFailedProtectIsIllegalStateException() {
        calls.failNextVirtualProtect(RecordingWindowsCalls.ERROR_INVALID_ADDRESS);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.protect(BASE, 4 * KIB))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("VirtualProtect(0x" + Long.toHexString(BASE) + ", 4096, PAGE_NOACCESS)")
                .hasMessageContaining("error 487");
    }

    @Test
    void aFailedPurgeIsIllegalStateException() {
        calls.failNextVirtualAlloc(RecordingWindowsCalls.ERROR_INVALID_ADDRESS);
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.purge(BASE, GRANULE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("VirtualAlloc(0x" + Long.toHexString(BASE) + ", " + GRANULE + ", MEM_RESET)")
                .hasMessageContaining("error 487");
    }

    @Test
    void anAlignedMappingWhoseProbeSizeOverflowsIsOutOfMemoryErrorWithoutAnyCall() {
        WindowsMemory memory = new WindowsMemory(calls);

        assertThatThrownBy(() -> memory.map(Long.MAX_VALUE & -GRANULE, 1L << 62))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("too large");
        assertThat(calls.calls()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({
        "0, 65536",
        "4096, 0",
        "3000, 65536",
        "4096, 65537",
        "65536, 4096",
        "-4096, 65536",
    })
    void badGetSystemInfoValuesAreIllegalStateException(long pageSize, long granularity) {
        RecordingWindowsCalls bad = new RecordingWindowsCalls(pageSize, granularity);

        assertThatThrownBy(() -> new WindowsMemory(bad))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("page size " + pageSize)
                .hasMessageContaining("granularity " + granularity);
    }

    @Test
    void theConstantsAreWindowsNumbers() {
        assertThat(WindowsMemory.MEM_COMMIT).isEqualTo(0x1000);
        assertThat(WindowsMemory.MEM_RESERVE).isEqualTo(MEM_RESERVE);
        assertThat(WindowsMemory.MEM_RELEASE).isEqualTo(MEM_RELEASE);
        assertThat(WindowsMemory.MEM_RESET).isEqualTo(MEM_RESET);
        assertThat(WindowsMemory.PAGE_NOACCESS).isEqualTo(PAGE_NOACCESS);
        assertThat(WindowsMemory.PAGE_READWRITE).isEqualTo(PAGE_READWRITE);
    }
}
