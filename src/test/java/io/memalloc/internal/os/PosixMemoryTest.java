package io.memalloc.internal.os;

import static io.memalloc.internal.os.Mappings.mapOrFail;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.RecordingPosixCalls.Madvise;
import io.memalloc.internal.os.RecordingPosixCalls.Mmap;
import io.memalloc.internal.os.RecordingPosixCalls.Mprotect;
import io.memalloc.internal.os.RecordingPosixCalls.Munmap;
import io.memalloc.internal.os.RecordingPosixCalls.Sysconf;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link PosixMemory} against a recording fake of the libc calls, with the Linux and the macOS numbers. */
class PosixMemoryTest {
    private static final long MIB = 1024 * 1024;
    private static final long BASE = RecordingPosixCalls.FIRST_ADDRESS;

    /**
     * One POSIX system, with the numbers written out literally here rather than read from {@link PosixConstants},
     * so that a wrong constant there fails these tests.
     */
    record Sys(PosixConstants constants, long pageSize, int scPageSize, int mmapFlags, int purgeAdvice) {
        @Override
        public String toString() {
            return constants.system() + " with " + pageSize + "-byte pages";
        }
    }

    static Stream<Sys> systems() {
        return Stream.of(
                new Sys(PosixConstants.LINUX, 4096, 30, 0x22, 4),
                new Sys(PosixConstants.LINUX, 65536, 30, 0x22, 4),
                new Sys(PosixConstants.MACOS, 4096, 29, 0x1002, 5),
                new Sys(PosixConstants.MACOS, 16384, 29, 0x1002, 5));
    }

    private static RecordingPosixCalls fake(Sys sys) {
        return new RecordingPosixCalls(sys.pageSize());
    }

    @ParameterizedTest
    @MethodSource("systems")
    void asksSysconfForThePageSizeOnce(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        assertThat(calls.calls()).containsExactly(new Sysconf(sys.scPageSize()));
        assertThat(memory.pageSize()).isEqualTo(sys.pageSize());
        assertThat(memory.granularity()).isEqualTo(sys.pageSize());
    }

    @ParameterizedTest
    @MethodSource("systems")
    void mapsAnonymousPrivateReadWriteMemory(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        long address = mapOrFail(memory, 4 * sys.pageSize(), sys.pageSize());

        assertThat(address).isEqualTo(BASE);
        assertThat(calls.callsAfter(1)).containsExactly(new Mmap(0, 4 * sys.pageSize(), 3, sys.mmapFlags()));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void alignmentUpToThePageSizeCostsNoExtraMapping(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());
        long size = sys.pageSize();

        long first = mapOrFail(memory, size, 1);
        long second = mapOrFail(memory, size, 64);
        long third = mapOrFail(memory, size, sys.pageSize() / 2);

        assertThat(calls.callsAfter(1)).containsExactly(
                new Mmap(0, size, 3, sys.mmapFlags()),
                new Mmap(0, size, 3, sys.mmapFlags()),
                new Mmap(0, size, 3, sys.mmapFlags()));
        assertThat(first).isEqualTo(BASE);
        assertThat(second).isEqualTo(BASE + size + sys.pageSize());
        assertThat(third).isEqualTo(BASE + 2 * (size + sys.pageSize()));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void largeAlignmentOverMapsThenUnmapsHeadAndTail(Sys sys) {
        long page = sys.pageSize();
        long size = 2 * MIB;
        long alignment = 4 * MIB;
        long p = BASE + 3 * page; // 3 pages past an aligned address: the worst kind of start but one
        RecordingPosixCalls calls = fake(sys).returnNextMmapAt(p);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        long address = mapOrFail(memory, size, alignment);

        long extra = alignment - page;
        long length = size + extra;
        long aligned = BASE + alignment;
        long head = aligned - p;
        long tail = p + length - (aligned + size);
        assertThat(address).isEqualTo(aligned);
        assertThat(address % alignment).isZero();
        assertThat(head).isEqualTo(alignment - 3 * page);
        assertThat(tail).isEqualTo(2 * page);
        assertThat(calls.callsAfter(1)).containsExactly(
                new Mmap(0, length, 3, sys.mmapFlags()),
                new Munmap(p, head),
                new Munmap(aligned + size, tail));
        // The two unmapped pieces and the kept range [aligned, aligned + size) tile the mapping exactly.
        assertThat(p + head).isEqualTo(address);
        assertThat(address + size + tail).isEqualTo(p + length);
    }

    @ParameterizedTest
    @MethodSource("systems")
    void alreadyAlignedMappingUnmapsOnlyTheTail(Sys sys) {
        long page = sys.pageSize();
        long size = MIB;
        long alignment = 2 * MIB;
        RecordingPosixCalls calls = fake(sys).returnNextMmapAt(BASE);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        long address = mapOrFail(memory, size, alignment);

        assertThat(address).isEqualTo(BASE);
        assertThat(calls.callsAfter(1)).containsExactly(
                new Mmap(0, size + alignment - page, 3, sys.mmapFlags()),
                new Munmap(BASE + size, alignment - page));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void mappingOnePagePastAlignmentUnmapsOnlyTheHead(Sys sys) {
        long page = sys.pageSize();
        long size = MIB;
        long alignment = 2 * MIB;
        long p = BASE + page;
        RecordingPosixCalls calls = fake(sys).returnNextMmapAt(p);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        long address = mapOrFail(memory, size, alignment);

        assertThat(address).isEqualTo(BASE + alignment);
        assertThat(calls.callsAfter(1)).containsExactly(
                new Mmap(0, size + alignment - page, 3, sys.mmapFlags()),
                new Munmap(p, alignment - page));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void unmapIsOneMunmapOfTheWholeRange(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        memory.unmap(BASE + MIB, 3 * sys.pageSize());

        assertThat(calls.callsAfter(1)).containsExactly(new Munmap(BASE + MIB, 3 * sys.pageSize()));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void purgeUsesTheSystemsReleasingAdvice(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        memory.purge(BASE + sys.pageSize(), 5 * sys.pageSize());

        assertThat(calls.callsAfter(1))
                .containsExactly(new Madvise(BASE + sys.pageSize(), 5 * sys.pageSize(), sys.purgeAdvice()));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void mmapFailureIsOutOfMemoryErrorNamingSizeAndErrno(Sys sys) {
        RecordingPosixCalls calls = fake(sys).failNextMmap(12);
        PosixMemory memory = new PosixMemory(calls, sys.constants());
        long size = 3 * sys.pageSize();

        assertThatThrownBy(() -> memory.map(size, sys.pageSize()))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining(Long.toString(size))
                .hasMessageContaining("ENOMEM");
        assertThat(calls.callsAfter(1)).containsExactly(new Mmap(0, size, 3, sys.mmapFlags()));
    }

    @Test
    void mmapFailureOfAnAlignedMappingIsOutOfMemoryErrorWithoutUnmapping() {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096).failNextMmap(12);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);

        // The size asked of mmap is not something mapped: the message must not read as if it were.
        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageStartingWith("mmap of 1048576 bytes aligned to 2097152 failed (it asked for 3141632 bytes,"
                        + " the alignment's slack included): errno 12 (ENOMEM)");
        assertThat(calls.callsAfter(1)).containsExactly(new Mmap(0, MIB + 2 * MIB - 4096, 3, 0x22));
    }

    @Test
    void anUnnamedErrnoIsGivenAsANumber() {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096).failNextMmap(99);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);

        assertThatThrownBy(() -> memory.map(4096, 4096))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("errno 99");
    }

    @Test
    void theFakeFailsOnlyOnceAndTheNextMapWorks() {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096).failNextMmap(12);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);

        assertThatThrownBy(() -> memory.map(4096, 4096)).isInstanceOf(OutOfMemoryError.class);
        assertThat(mapOrFail(memory, 4096, 4096)).isEqualTo(BASE);
    }

    @ParameterizedTest
    @MethodSource("systems")
    void munmapFailureIsIllegalStateException(Sys sys) {
        RecordingPosixCalls calls = fake(sys).failNextMunmap(22);
        PosixMemory memory = new PosixMemory(calls, sys.constants());
        long address = BASE + 7 * sys.pageSize();

        assertThatThrownBy(() -> memory.unmap(address, sys.pageSize()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("munmap(0x" + Long.toHexString(address) + ", " + sys.pageSize() + ")")
                .hasMessageContaining("EINVAL");
    }

    @Test
    void munmapFailureWhileTrimmingIsOutOfMemoryErrorAndTheWholeMappingIsGivenBack() {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096).returnNextMmapAt(BASE + 4096).failNextMunmap(12);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);
        long length = MIB + 2 * MIB - 4096;

        assertThatThrownBy(() -> memory.map(MIB, 2 * MIB))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("trimming")
                .hasMessageContaining("ENOMEM");
        assertThat(calls.callsAfter(1)).containsExactly(
                new Mmap(0, length, 3, 0x22),
                new Munmap(BASE + 4096, 2 * MIB - 4096),
                new Munmap(BASE + 4096, length));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void protectMakesThePagesAGuard(Sys sys) {
        RecordingPosixCalls calls = fake(sys);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        memory.protect(BASE + 3 * sys.pageSize(), sys.pageSize());

        assertThat(calls.callsAfter(1)).containsExactly(new Mprotect(BASE + 3 * sys.pageSize(), sys.pageSize(), 0));
    }

    @ParameterizedTest
    @MethodSource("systems")
    void mprotectFailureIsIllegalStateException(Sys sys) {
        RecordingPosixCalls calls = fake(sys).failNextMprotect(12);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        assertThatThrownBy(() -> memory.protect(BASE, sys.pageSize()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("mprotect(0x" + Long.toHexString(BASE) + ", " + sys.pageSize() + ", PROT_NONE)")
                .hasMessageContaining("ENOMEM");
    }

    @ParameterizedTest
    @MethodSource("systems")
    void madviseFailureIsIllegalStateException(Sys sys) {
        RecordingPosixCalls calls = fake(sys).failNextMadvise(22);
        PosixMemory memory = new PosixMemory(calls, sys.constants());

        assertThatThrownBy(() -> memory.purge(BASE, sys.pageSize()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("madvise(0x" + Long.toHexString(BASE) + ", " + sys.pageSize() + ", "
                        + sys.purgeAdvice() + ")")
                .hasMessageContaining("EINVAL");
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -1, -22, 3, 3000, 4097, 12288, Long.MIN_VALUE})
    void aBadPageSizeFromSysconfIsIllegalStateException(long result) {
        RecordingPosixCalls calls = new RecordingPosixCalls(result);

        assertThatThrownBy(() -> new PosixMemory(calls, PosixConstants.LINUX))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Linux")
                .hasMessageContaining("sysconf(_SC_PAGESIZE) gave " + result);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -4096, 1, 4095, 4097, 6144, Long.MIN_VALUE})
    void aSizeThatIsNoPositiveMultipleOfThePageIsIllegalArgumentException(long size) {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);

        assertThatThrownBy(() -> memory.map(size, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(Long.toString(size));
        assertThat(calls.callsAfter(1)).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -1, -4096, 3, 12288, 3 * MIB, Long.MIN_VALUE})
    void anAlignmentThatIsNoPowerOfTwoIsIllegalArgumentException(long alignment) {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);

        assertThatThrownBy(() -> memory.map(4096, alignment))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("alignment " + alignment);
        assertThat(calls.callsAfter(1)).isEmpty();
    }

    @Test
    void aMappingWhoseLengthOverflowsIsOutOfMemoryErrorWithoutAnyCall() {
        RecordingPosixCalls calls = new RecordingPosixCalls(4096);
        PosixMemory memory = new PosixMemory(calls, PosixConstants.LINUX);
        long size = Long.MAX_VALUE & -4096L;

        assertThatThrownBy(() -> memory.map(size, 1L << 62))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("too large");
        assertThat(calls.callsAfter(1)).isEmpty();
    }

    @Test
    void theConstantsAreTheSystemsNumbers() {
        assertThat(PosixConstants.PROT_READ | PosixConstants.PROT_WRITE).isEqualTo(3);
        assertThat(PosixConstants.MAP_PRIVATE).isEqualTo(2);
        assertThat(PosixConstants.LINUX).isEqualTo(new PosixConstants("Linux", 0x20, 4, 30));
        assertThat(PosixConstants.MACOS).isEqualTo(new PosixConstants("macOS", 0x1000, 5, 29));
    }
}
