package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** maxMappedBytes and a failing OS: OutOfMemoryError with a clear message, and the allocator keeps working. */
class MappingLimitTest {
    @RegisterExtension
    final LogCapture log = new LogCapture();

    @Test
    void theCapsMessageGivesExactBytesBesideRoundedOnes() {
        // 4 MiB and one byte need a mapping of 4 MiB and a page (4 or 16 KiB): rounded alone, both read "4.0 MiB".
        try (MemAlloc alloc = MemAlloc.builder().regionSize(1 << 20).maxMappedBytes(4 << 20).build()) {
            assertThatThrownBy(() -> alloc.allocate((4 << 20) + 1, 16)).isInstanceOf(OutOfMemoryError.class)
                    .message().matches("MemAlloc: a request of 4194305 bytes needs a new mapping of 4(198400|210688)"
                            + " bytes \\(4\\.0 MiB\\); 0 bytes are mapped already, and maxMappedBytes is"
                            + " 4194304 bytes \\(4\\.0 MiB\\), so 4194304 bytes \\(4\\.0 MiB\\) are left");
        }
    }

    @Test
    void aRequestOverTheCapIsOutOfMemoryAndNamesCapAndRequest() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).maxMappedBytes(128 * 1024).build()) {
            MemorySegment first = alloc.allocate(100_000, 16);

            assertThatThrownBy(() -> alloc.allocate(50_000, 16)).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("maxMappedBytes is 131072").hasMessageContaining("50000 bytes");
            assertThat(alloc.stats().mappedBytes()).isEqualTo(102_400);

            alloc.free(first);
            MemorySegment second = alloc.allocate(50_000, 16);
            Contents.fill(second, 7);
            alloc.free(second);
            alloc.verifyHeap();
        }
    }

    @Test
    void cachedEmptyRegionsAreGivenBackBeforeRefusing() {
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).maxMappedBytes(128 * 1024)
                .cachedRegions(2).build()) {
            alloc.free(alloc.allocate(1000, 16));
            assertThat(alloc.stats().emptyRegionCount()).isEqualTo(1);

            MemorySegment large = alloc.allocate(100_000, 16);

            assertThat(alloc.stats().regionCount()).isZero();
            assertThat(alloc.stats().mappedBytes()).isEqualTo(102_400);
            alloc.free(large);
            alloc.verifyHeap();
        }
    }

    @Test
    void smallRequestsFillTheCapAndThenFail() {
        String name;
        try (MemAlloc alloc = MemAlloc.builder().stripes(1).regionSize(64 * 1024).maxMappedBytes(128 * 1024)
                .build()) {
            int served = 0;
            OutOfMemoryError refused = null;
            java.util.List<MemorySegment> live = new java.util.ArrayList<>();
            while (refused == null && served < 100) {
                try {
                    live.add(alloc.allocate(10_000, 16));
                    served++;
                } catch (OutOfMemoryError e) {
                    refused = e;
                }
            }
            assertThat(refused).isNotNull();
            assertThat(served).isBetween(10, 12);
            assertThat(alloc.stats().mappedBytes()).isEqualTo(128 * 1024);
            alloc.verifyHeap();
            for (MemorySegment segment : live) {
                alloc.free(segment);
            }
            assertThat(alloc.allocate(10_000, 16).byteSize()).isEqualTo(10_000);
            name = alloc.name();
        }
        assertThat(log.take()).as("the last block, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 1, 10_000));
    }

    @Test
    void aFailedMappingIsOutOfMemoryAndNothingIsCounted() {
        FaultyOsMemory os = new FaultyOsMemory();
        try (MemAlloc alloc = MemAlloc.builder().regionSize(64 * 1024).build(os)) {
            os.failMap(1);
            assertThatThrownBy(() -> alloc.allocate(100, 16)).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("injected");
            assertThat(alloc.stats().mappedBytes()).isZero();
            assertThat(alloc.stats().mapCount()).isZero();

            os.failMap(1);
            assertThatThrownBy(() -> alloc.allocate(1 << 20, 16)).isInstanceOf(OutOfMemoryError.class);

            MemorySegment works = alloc.allocate(100, 16);
            Contents.fill(works, 1);
            alloc.free(works);
            alloc.verifyHeap();
            assertThat(alloc.stats().mapCount()).isEqualTo(1);
        }
    }
}
