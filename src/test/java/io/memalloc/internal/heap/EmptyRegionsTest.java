package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.os.OsMemory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Empty regions kept for reuse: mapped still, but only one of them resident; the rest go at once. */
class EmptyRegionsTest {
    private static final long REGION = 1 << 20;
    private static final long BLOCK = 16 * 1024;
    /** Blocks of 16 KiB (and a header each) that fill a region of 1 MiB. */
    private static final int BLOCKS_PER_REGION = (int) ((REGION - 2 * Block.HEADER) / Block.sizeFor(BLOCK));

    @Test
    void ofTheEmptyRegionsKeptOnlyTheFirstStaysResidentTheNextArePurgedAndTheRestUnmapped() {
        PurgeCounting os = new PurgeCounting();
        Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 2, false, 0, false, false));
        try {
            Map<Region, List<Long>> byRegion = new LinkedHashMap<>();
            for (int i = 0; i < 3 * BLOCKS_PER_REGION; i++) {
                long block = heap.allocate(BLOCK, 16, false);
                byRegion.computeIfAbsent(heap.table().find(block), r -> new ArrayList<>()).add(block);
            }
            List<List<Long>> regions = new ArrayList<>(byRegion.values());
            List<Long> first = regions.get(0);
            List<Long> second = regions.get(1);
            List<Long> third = regions.get(2);
            assertThat(heap.stats().regionCount()).isEqualTo(3);

            first.forEach(heap::free);
            assertThat(os.purged).as("the first region kept stays resident").isEmpty();
            second.forEach(heap::free);
            assertThat(os.purged).as("the second region kept is purged, all but its first and last page")
                    .containsExactly(REGION - 2 * os.pageSize());
            third.forEach(heap::free);

            HeapStats stats = heap.stats();
            assertThat(stats.emptyRegionCount()).isEqualTo(2);
            assertThat(stats.unmapCount()).as("the third, past the two kept").isEqualTo(1);
            assertThat(os.purged).hasSize(1);
            heap.verify();

            long again = heap.allocate(REGION / 2, 16, true); // a purged region serves a request as any other
            heap.free(again);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    /** The system's memory, with the size of every purge. */
    private static final class PurgeCounting implements OsMemory {
        private final OsMemory system = OsMemory.system();
        final List<Long> purged = new ArrayList<>();

        @Override
        public long pageSize() {
            return system.pageSize();
        }

        @Override
        public long granularity() {
            return system.granularity();
        }

        @Override
        public long map(long byteSize, long alignment) {
            return system.map(byteSize, alignment);
        }

        @Override
        public void unmap(long address, long byteSize) {
            system.unmap(address, byteSize);
        }

        @Override
        public void protect(long address, long byteSize) {
            system.protect(address, byteSize);
        }

        @Override
        public void purge(long address, long byteSize) {
            purged.add(byteSize);
            system.purge(address, byteSize);
        }
    }
}
