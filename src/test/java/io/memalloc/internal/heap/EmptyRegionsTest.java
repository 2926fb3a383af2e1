package io.memalloc.internal.heap;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.os.AddressSpace;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Empty regions kept for reuse: mapped still, but only the one of a stripe that emptied last resident; the rest go at
 * once.
 */
class EmptyRegionsTest {
    private static final long REGION = 1 << 20;
    private static final long BLOCK = 16 * 1024;
    /** Blocks of 16 KiB (and a header each) that fill a region of 1 MiB. */
    private static final int BLOCKS_PER_REGION = (int) ((REGION - 2 * Block.HEADER) / Block.sizeFor(BLOCK));

    @Test
    void ofTheEmptyRegionsKeptOnlyTheLastToEmptyStaysResidentTheOthersArePurgedAndTheRestUnmapped() {
        RecordingOsMemory os = new RecordingOsMemory();
        Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 2, 0, false, false));
        try {
            Map<Region, List<Long>> byRegion = new LinkedHashMap<>();
            for (int i = 0; i < 3 * BLOCKS_PER_REGION; i++) {
                long block = heap.allocate(BLOCK, 16, false);
                AddressSpace.all().asSlice(block, BLOCK).fill((byte) 0x5A); // so that "reads as zero" below means it
                byRegion.computeIfAbsent(heap.table().find(block), r -> new ArrayList<>()).add(block);
            }
            List<List<Long>> regions = new ArrayList<>(byRegion.values());
            List<Long> first = regions.get(0);
            List<Long> second = regions.get(1);
            List<Long> third = regions.get(2);
            assertThat(heap.stats().regionCount()).isEqualTo(3);

            long firstBase = heap.table().find(first.get(0)).base;
            first.forEach(heap::free);
            assertThat(os.purged).as("one empty region kept: it stays resident").isEmpty();
            second.forEach(heap::free);
            assertThat(os.purged).as("two: the one that emptied first is purged, all but its first and last page")
                    .containsExactly(new long[] {firstBase + os.pageSize(), REGION - 2 * os.pageSize()});
            third.forEach(heap::free);

            HeapStats stats = heap.stats();
            assertThat(stats.emptyRegionCount()).isEqualTo(2);
            assertThat(stats.unmapCount()).as("the third, past the two kept").isEqualTo(1);
            assertThat(os.purged).hasSize(1);
            heap.verify();

            // A purged region serves requests as any other: two regions' worth of blocks fill the resident one and
            // the purged one, every block reads as zero and keeps what is written to it.
            List<Long> again = new ArrayList<>();
            for (int i = 0; i < 2 * BLOCKS_PER_REGION; i++) {
                again.add(heap.allocate(BLOCK, 16, true));
            }
            assertThat(again).as("blocks from the purged region").anySatisfy(block ->
                    assertThat(heap.table().find(block).base).isEqualTo(firstBase));
            assertThat(heap.stats().regionCount()).as("no region mapped for them").isEqualTo(2);
            for (int i = 0; i < again.size(); i++) {
                MemorySegment bytes = AddressSpace.all().asSlice(again.get(i), BLOCK);
                assertThat(bytes.elements(JAVA_LONG).allMatch(word -> word.get(JAVA_LONG, 0) == 0)).isTrue();
                bytes.fill((byte) i);
            }
            for (int i = 0; i < again.size(); i++) {
                MemorySegment bytes = AddressSpace.all().asSlice(again.get(i), BLOCK);
                byte expected = (byte) i;
                assertThat(bytes.elements(JAVA_BYTE).allMatch(b -> b.get(JAVA_BYTE, 0) == expected)).isTrue();
            }
            again.forEach(heap::free);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    @Test
    void aRegionMappedForARequestThatABlockFreedMeanwhileServedIsGivenBack() {
        RecordingOsMemory os = new RecordingOsMemory();
        Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 0, 0, false, false));
        try {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < BLOCKS_PER_REGION; i++) {
                blocks.add(heap.allocate(BLOCK, 16, false));
            }
            assertThat(heap.stats().regionCount()).as("one region, full").isEqualTo(1);
            // The next request maps a region, with no lock held; meanwhile a block of the full one is freed, and
            // serves the request when the heap takes the lock again.
            long freedMeanwhile = blocks.removeFirst();
            os.beforeNextMap = () -> heap.free(freedMeanwhile);
            long block = heap.allocate(BLOCK, 16, false);

            assertThat(block).isEqualTo(freedMeanwhile);
            assertThat(heap.stats().regionCount()).as("the region mapped for nothing is given back").isEqualTo(1);
            assertThat(os.live).hasSize(1);
            heap.verify();
            heap.free(block);
            blocks.forEach(heap::free);
            assertThat(heap.stats().mappedBytes()).isZero();
        } finally {
            heap.close();
        }
    }

    @Test
    void aRegionEmptiedAndRefilledInALoopIsNeverPurgedNorIsTheOtherPurgedTwice() {
        RecordingOsMemory os = new RecordingOsMemory();
        Heap heap = new Heap(os, new HeapConfig("test", REGION, 1, Long.MAX_VALUE, 2, 0, false, false));
        try {
            long a = heap.allocate(REGION / 3, 16, false);
            long b = heap.allocate(REGION / 3, 16, false);
            long c = heap.allocate(REGION / 3, 16, false); // three do not fit in one region: a second one
            assertThat(heap.stats().regionCount()).isEqualTo(2);
            heap.free(a);
            heap.free(b); // the first region is empty, kept, resident

            for (int i = 0; i < 10; i++) {
                heap.free(c); // empties the second region
                c = heap.allocate(REGION / 3, 16, false);
            }

            assertThat(os.purged).as("the first region, once").hasSize(1);
            assertThat(heap.stats().mapCount()).isEqualTo(2);
            heap.free(c);
            heap.verify();
        } finally {
            heap.close();
        }
    }
}
