package io.memalloc.internal.heap;

import io.memalloc.internal.heap.LargeBlocks.LargeBlock;
import java.util.Locale;

/**
 * Draws a {@link Heap} as text: one entry per region, with a bar of its occupancy and a row per block, then the
 * large blocks, then the mappings the OS refused to take back.
 *
 * <pre>
 *  MemAlloc heap: 4.0 MiB mapped; regions: 1 (0 empty); large blocks: 0; live allocations: 2, 64 B asked
 *  region 0x7f0c40000000 (4.0 MiB, stripe 1): 2 live blocks, 112 B in use
 *    |+...............................................................|   # in use  + partly  . free
 *    0x7f0c40000008  in use       80 B   64 B asked, align 16
 *    0x7f0c40000058  in use       32 B   0 B asked, align 16
 *    0x7f0c40000078  free      4.0 MiB
 *  page region 0x7f0c48000000 (4.0 MiB): 2 pages of 64
 *    page 0x7f0c48000000: 64 B blocks, 3 of 1024 in use
 *    page 0x7f0c48010000: 1.0 KiB blocks, 64 of 64 in use
 *  large 0x7f0c50000000: 6.0 MiB mapped, 5.0 MiB asked, align 16
 *  owed 0x7f0c60000000: 4.0 MiB mapped, unused; the OS refused to take it back (trim and close try again)
 * </pre>
 *
 * Each region's rows stop at {@link #ROWS_PER_REGION}; the bar always covers the whole region.
 */
final class HeapMapWriter {
    static final int ROWS_PER_REGION = 24;
    private static final int BAR_WIDTH = 64;

    private final Heap heap;
    private final StringBuilder out = new StringBuilder();

    HeapMapWriter(Heap heap) {
        this.heap = heap;
    }

    String write() {
        HeapStats stats = heap.stats();
        line("MemAlloc heap: %s mapped; regions: %d (%d empty); large blocks: %d; live allocations: %d, %s asked",
                Sizes.format(stats.mappedBytes()), stats.regionCount(), stats.emptyRegionCount(),
                stats.largeBlockCount(), stats.allocationCount() - stats.freeCount(),
                Sizes.format(stats.allocatedBytes()));
        for (Stripe stripe : heap.stripes()) {
            stripe.lock.lock();
            try {
                for (Region region : stripe.regions) {
                    writeRegion(region);
                }
            } finally {
                stripe.lock.unlock();
            }
        }
        if (heap.small() != null) {
            for (PageRegion region : heap.small().regions().all()) {
                writePages(region);
            }
        }
        for (LargeBlock block : heap.large().all()) {
            line("large 0x%x: %s mapped, %s asked, align %d", block.address(), Sizes.format(block.mappingSize()),
                    Sizes.format(block.byteSize()), block.alignment());
        }
        for (OwedMappings.Owed owed : heap.owed().all()) {
            line("owed 0x%x: %s mapped, unused; the OS refused to take it back (trim and close try again)",
                    owed.address(), Sizes.format(owed.byteSize()));
        }
        return out.toString();
    }

    /** A region of small-block pages, read without a lock: the counts are those of the moment. */
    private void writePages(PageRegion region) {
        int pages = region.slotCount() - region.freeSlotCount;
        line("%s: %d pages of %d", region, pages, region.slotCount());
        int rows = 0;
        for (int slot = 0; slot < region.slotCount() && rows < ROWS_PER_REGION; slot++) {
            Page page = region.pageInSlot(slot);
            if (page != null) {
                line("  page 0x%x: %s blocks, %d of %d in use", page.base, Sizes.format(page.blockSize), page.used,
                        page.capacity);
                rows++;
            }
        }
        if (rows < pages) {
            line("  ... and %d more pages", pages - rows);
        }
    }

    private void writeRegion(Region region) {
        long cell = region.size / BAR_WIDTH;
        long[] usedPerCell = new long[BAR_WIDTH];
        long inUse = 0;
        for (long block = region.firstBlock(); block < region.epilogue(); block = next(region, block)) {
            if (Block.isInUse(block) && next(region, block) <= region.epilogue()) {
                long size = Block.size(block);
                inUse += size;
                for (long at = block; at < block + size; ) {
                    int index = (int) ((at - region.base) / cell);
                    long cellEnd = region.base + (index + 1) * cell;
                    long upTo = Math.min(cellEnd, block + size);
                    usedPerCell[index] += upTo - at;
                    at = upTo;
                }
            }
        }
        line("%s: %d live blocks, %s in use", region, region.liveBlocks, Sizes.format(inUse));
        StringBuilder bar = new StringBuilder("  |");
        for (long used : usedPerCell) {
            bar.append(used == 0 ? '.' : used == cell ? '#' : '+');
        }
        line("%s|   # in use  + partly  . free", bar);
        int rows = 0;
        long block = region.firstBlock();
        for (; block < region.epilogue() && rows < ROWS_PER_REGION; block = next(region, block), rows++) {
            long size = Block.size(block);
            if (next(region, block) > region.epilogue()) {
                line("  0x%x  damaged header 0x%016x: its size does not fit the region; the walk stops", block,
                        Block.header(block));
            } else if (Block.isInUse(block)) {
                line("  0x%x  in use  %9s   %s asked, align %d", block, Sizes.format(size),
                        Sizes.format(Block.byteSize(block)), Block.alignment(block));
            } else {
                line("  0x%x  free    %9s%s", block, Sizes.format(size), Block.isPurged(block) ? "   purged" : "");
            }
        }
        int more = 0;
        for (; block < region.epilogue(); block = next(region, block)) {
            more++;
        }
        if (more > 0) {
            line("  ... and %d more blocks", more);
        }
    }

    /**
     * The block after {@code block}, or one past the epilogue when its header's size does not fit the region (a
     * damaged header): the walks read only inside the region, and end.
     */
    private static long next(Region region, long block) {
        long size = Block.size(block);
        return size >= Block.MIN_SIZE && size <= region.epilogue() - block ? block + size : region.epilogue() + 1;
    }

    @SuppressWarnings("AnnotateFormatMethod") // Error Prone's @FormatMethod would be a run-time dependency
    private void line(String format, Object... args) {
        out.append(String.format(Locale.ROOT, format, args)).append('\n');
    }
}
