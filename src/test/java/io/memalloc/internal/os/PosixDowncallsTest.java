package io.memalloc.internal.os;

import static io.memalloc.internal.os.Mappings.mapOrFail;
import static io.memalloc.internal.os.ProcMaps.permissionsAt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** The real {@link OsMemory#system()} and {@link PosixDowncalls} on this machine: real mmap, munmap and madvise. */
@EnabledOnOs(OS.LINUX)
class PosixDowncallsTest {
    private static final long MIB = 1024 * 1024;
    private static final int EINVAL = 22;
    private static final int ENOMEM = 12;

    private final OsMemory memory = OsMemory.system();

    private static MemorySegment at(long address, long size) {
        return AddressSpace.all().asSlice(address, size);
    }

    private static void assertAllZero(MemorySegment segment) {
        MemorySegment zeroes = MemorySegment.ofArray(new byte[Math.toIntExact(segment.byteSize())]);
        assertThat(segment.mismatch(zeroes)).as("offset of the first non-zero byte").isEqualTo(-1L);
    }

    private static void assertAllEqual(MemorySegment segment, byte value) {
        byte[] expected = new byte[Math.toIntExact(segment.byteSize())];
        java.util.Arrays.fill(expected, value);
        assertThat(segment.mismatch(MemorySegment.ofArray(expected))).as("offset of the first other byte")
                .isEqualTo(-1L);
    }


    @Test
    @EnabledOnOs(OS.LINUX) // reads /proc/self/maps
    void protectMakesAGuardPageAndLeavesTheRestAsItWas() throws Exception {
        long page = memory.pageSize();
        long address = mapOrFail(memory, 4 * page, page);
        try {
            at(address, 3 * page).fill((byte) 7);
            memory.protect(address + 3 * page, page);
            assertThat(permissionsAt(address + 3 * page)).isEqualTo("---p");
            assertThat(permissionsAt(address)).isEqualTo("rw-p");
            assertAllEqual(at(address, 3 * page), (byte) 7);
        } finally {
            memory.unmap(address, 4 * page);
        }
    }

    @Test
    void protectOfAnUnalignedAddressIsIllegalStateExceptionNamingEinval() {
        long page = memory.pageSize();
        long address = mapOrFail(memory, 2 * page, page);
        try {
            assertThatThrownBy(() -> memory.protect(address + 8, page))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("mprotect(0x" + Long.toHexString(address + 8))
                    .hasMessageContaining("EINVAL");
        } finally {
            memory.unmap(address, 2 * page);
        }
    }

    @Test
    void pageSizeIsAPowerOfTwoOfAtLeast4KiB() {
        assertThat(memory.pageSize()).isGreaterThanOrEqualTo(4096);
        assertThat(Long.bitCount(memory.pageSize())).isEqualTo(1);
        assertThat(memory.granularity()).isEqualTo(memory.pageSize());
    }

    @Test
    void mapsAlignedZeroedWritableMemoryThatPurgeZeroesAgain() {
        long address = mapOrFail(memory, MIB, MIB);
        try {
            assertThat(address).isNotZero();
            assertThat(address % MIB).isZero();
            MemorySegment segment = at(address, MIB);
            assertAllZero(segment);

            segment.fill((byte) 0x5A);
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, MIB - 8, 0x0123_4567_89AB_CDEFL);
            assertThat(segment.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x5A);
            assertThat(segment.get(ValueLayout.JAVA_LONG_UNALIGNED, MIB - 8)).isEqualTo(0x0123_4567_89AB_CDEFL);
            assertAllEqual(segment.asSlice(0, MIB - 8), (byte) 0x5A);

            memory.purge(address, MIB);
            assertAllZero(segment); // MADV_DONTNEED: private anonymous pages read as zero afterwards

            segment.fill((byte) 0x33); // still mapped and writable after the purge
            assertAllEqual(segment, (byte) 0x33);
        } finally {
            memory.unmap(address, MIB);
        }
    }

    @Test
    void purgingPartOfAMappingZeroesOnlyThatPart() {
        long page = memory.pageSize();
        long size = 4 * page;
        long address = mapOrFail(memory, size, page);
        try {
            MemorySegment segment = at(address, size);
            segment.fill((byte) 7);

            memory.purge(address + page, 2 * page);

            assertAllEqual(segment.asSlice(0, page), (byte) 7);
            assertAllZero(segment.asSlice(page, 2 * page));
            assertAllEqual(segment.asSlice(3 * page, page), (byte) 7);
        } finally {
            memory.unmap(address, size);
        }
    }

    @Test
    void largeAlignmentsAreMet() {
        long[] alignments = {2 * MIB, 64 * MIB, 1024 * MIB};
        for (long alignment : alignments) {
            long size = 2 * memory.pageSize();
            long address = mapOrFail(memory, size, alignment);
            try {
                assertThat(address % alignment).as("address 0x%x aligned to %d", address, alignment).isZero();
                MemorySegment segment = at(address, size);
                assertAllZero(segment);
                segment.fill((byte) 1);
                assertAllEqual(segment, (byte) 1);
            } finally {
                memory.unmap(address, size);
            }
        }
    }

    @Test
    void separateMappingsDoNotOverlap() {
        long first = mapOrFail(memory, MIB, MIB);
        try {
            long second = mapOrFail(memory, MIB, MIB);
            try {
                assertThat(second).isNotEqualTo(first);
                assertThat(second >= first + MIB || first >= second + MIB).as("disjoint").isTrue();
                at(first, MIB).fill((byte) 1);
                at(second, MIB).fill((byte) 2);
                assertAllEqual(at(first, MIB), (byte) 1);
                assertAllEqual(at(second, MIB), (byte) 2);
            } finally {
                memory.unmap(second, MIB);
            }
        } finally {
            memory.unmap(first, MIB);
        }
    }

    @Test
    void anAbsurdSizeIsOutOfMemoryError() {
        long size = (1L << 62) & -memory.pageSize();

        assertThatThrownBy(() -> memory.map(size, memory.pageSize()))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining(Long.toString(size))
                .hasMessageContaining("ENOMEM");
        assertThatThrownBy(() -> memory.map(size, 1L << 30))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("ENOMEM");
        assertThatThrownBy(() -> memory.map(Long.MAX_VALUE & -memory.pageSize(), 1L << 62))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("too large");
    }

    @Test
    void refusedUnmapAndPurgeAreIllegalStateExceptionWithTheErrno() {
        // Unaligned addresses: the kernel refuses with EINVAL without touching anything.
        assertThatThrownBy(() -> memory.unmap(1, memory.pageSize()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("munmap(0x1, ")
                .hasMessageContaining("EINVAL");
        long address = mapOrFail(memory, memory.pageSize(), memory.pageSize());
        try {
            assertThatThrownBy(() -> memory.purge(address + 1, memory.pageSize()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("madvise(0x" + Long.toHexString(address + 1))
                    .hasMessageContaining("EINVAL");
        } finally {
            memory.unmap(address, memory.pageSize());
        }
    }

    @Test
    void downcallsReturnMinusErrnoOnFailure() {
        PosixDowncalls calls = new PosixDowncalls(PosixConstants.LINUX);

        assertThat(calls.sysconf(30)).isEqualTo(memory.pageSize());
        assertThat(calls.sysconf(-1)).isEqualTo(-EINVAL);
        assertThat(calls.mmap(0, 1L << 62, 3, 0x22)).isEqualTo(-ENOMEM);
        assertThat(calls.munmap(1, 4096)).isEqualTo(-EINVAL);
        assertThat(calls.madvise(1, 4096, 4)).isEqualTo(-EINVAL);
        assertThat(calls.munmap(0, 0)).isEqualTo(-EINVAL);
    }

    @Test
    void downcallsWorkAndCaptureErrnoOnAFreshThread() throws InterruptedException {
        PosixDowncalls calls = new PosixDowncalls(PosixConstants.LINUX);
        AtomicInteger munmapResult = new AtomicInteger();
        AtomicInteger mapThenUnmapResult = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            munmapResult.set(calls.munmap(1, 4096));
            long p = calls.mmap(0, 4096, 3, 0x22);
            mapThenUnmapResult.set(p > 0 ? calls.munmap(p, 4096) : (int) p);
        });
        thread.start();
        thread.join();

        assertThat(munmapResult.get()).isEqualTo(-EINVAL);
        assertThat(mapThenUnmapResult.get()).isZero();
    }
}
