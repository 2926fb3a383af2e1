package io.memalloc.internal.heap;

import io.memalloc.internal.heap.LargeBlocks.LargeBlock;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Walks a whole {@link Heap} and throws {@link IllegalStateException} naming the first invariant that does not hold.
 *
 * <p>Per region: blocks tile it from the first block to the epilogue, each at least {@link Block#MIN_SIZE} and a
 * multiple of 16; each PREV_IN_USE bit tells the truth about the block before; a free block's footer repeats its
 * size, no two free blocks touch, and every free block is in its stripe's list for its size; every in-use block is
 * marked live, holds what its header says was asked for, at its alignment. Per stripe: the lists hold exactly the
 * free blocks of the walk, every link agrees with its neighbour, the bitmaps agree with the lists, and the counters
 * agree with the blocks. Per heap: the table holds exactly the stripes' regions, no mapping owed to the OS is in
 * use, and the mapped bytes add up.
 *
 * <p>It reads native memory only inside the heap's own regions, bounds checked before each read, under each
 * stripe's lock. The heap's counters are compared at quiescence: call it when no other thread uses the heap.
 */
final class HeapVerifier {
    private final Heap heap;

    HeapVerifier(Heap heap) {
        this.heap = heap;
    }

    void verify() {
        int regions = 0;
        int emptyRegions = 0;
        long countedBytes = 0;
        long headerBytes = 0;
        for (Stripe stripe : heap.stripes()) {
            stripe.lock.lock();
            try {
                StripeWalk walk = verifyStripe(stripe);
                emptyRegions += walk.emptyRegions();
                countedBytes += stripe.allocatedBytes;
                headerBytes += walk.liveBytes();
                regions += stripe.regions.size();
            } finally {
                stripe.lock.unlock();
            }
        }
        check(countedBytes == headerBytes, "the stripes count %d allocated bytes, but the blocks hold %d",
                countedBytes, headerBytes);
        check(heap.table().size() == regions, "the region table holds %d regions, the stripes %d",
                heap.table().size(), regions);
        int pageRegions = 0;
        if (heap.small() != null) {
            for (PageRegion region : heap.small().regions().all()) {
                emptyRegions += verifyPages(region);
                pageRegions++;
            }
        }
        check(heap.emptyRegions().count() == emptyRegions, "the empty-region count is %d, the walk found %d",
                heap.emptyRegions().count(), emptyRegions);
        LargeBlocks large = heap.large();
        long largeBytes = 0;
        for (LargeBlock block : large.all()) {
            check(heap.table().find(block.address()) == null, "large block 0x%x lies in a region",
                    block.address());
            check(block.address() % block.alignment() == 0, "large block 0x%x is not aligned to %d",
                    block.address(), block.alignment());
            check(block.byteSize() + heap.tailBytes() <= block.mappingSize(),
                    "large block 0x%x holds %d bytes in a %d-byte mapping", block.address(), block.byteSize(),
                    block.mappingSize());
            if (heap.hardening() != null) {
                heap.hardening().checkCanary(block.address(), block.byteSize());
            }
            largeBytes += block.mappingSize();
        }
        check(large.spareBytes() == heap.spares().bytes(), "the registry holds %d bytes of spares, the spares %d",
                large.spareBytes(), heap.spares().bytes());
        for (OwedMappings.Owed owed : heap.owed().all()) {
            check(heap.table().find(owed.address()) == null && !large.contains(owed.address()),
                    "the owed mapping at 0x%x is still in use", owed.address());
        }
        long mapped = (regions + pageRegions) * heap.regionSize() + largeBytes + heap.spares().bytes() + heap.owed().bytes();
        check(heap.mappedBytes() == mapped,
                "mappedBytes is %d, regions, large blocks, spare and owed mappings add up to %d", heap.mappedBytes(),
                mapped);
    }

    /**
     * Verifies the pages of a region of small blocks: each where the region's index and the page map put it, its
     * bitmaps agreeing with its count. Exact when no other thread allocates or frees meanwhile.
     *
     * @return 1 when the region holds no page (it is one of the empty regions kept), else 0
     */
    private int verifyPages(PageRegion region) {
        int pages = 0;
        for (int slot = 0; slot < region.slotCount(); slot++) {
            Page page = region.pageInSlot(slot);
            if (page == null) {
                continue;
            }
            pages++;
            check(page.region == region && page.slot == slot && page.base == region.base + ((long) slot << Page.SHIFT),
                    "%s is in slot %d of %s", page, slot, region);
            check(page.state() != Page.RELEASED, "%s is released but still in its region", page);
            check(PageMap.find(page.base) == page, "%s is not in the page map", page);
            String inconsistency = page.inconsistency();
            check(inconsistency == null, "%s: %s", page, inconsistency);
        }
        check(region.slotCount() - region.freeSlotCount == pages, "%s counts %d free slots, but holds %d pages",
                region, region.freeSlotCount, pages);
        return pages == 0 ? 1 : 0;
    }

    /** Verifies one stripe, its lock held. */
    private StripeWalk verifyStripe(Stripe stripe) {
        Set<Long> freeBlocks = new HashSet<>();
        long liveBytes = 0;
        long liveBlocks = 0;
        int empty = 0;
        for (Region region : stripe.regions) {
            check(region.stripe == stripe, "%s is listed in stripe %d", region, stripe.index);
            check(!region.released, "%s is released but still listed", region);
            check(heap.table().find(region.base) == region, "%s is not in the region table", region);
            RegionWalk walk = walk(region, freeBlocks);
            liveBytes += walk.liveBytes;
            liveBlocks += walk.liveBlocks;
            if (walk.liveBlocks == 0) {
                empty++;
            }
        }
        verifyLists(stripe, freeBlocks);
        check(stripe.allocatedBytes == liveBytes, "stripe %d counts %d allocated bytes, its blocks hold %d",
                stripe.index, stripe.allocatedBytes, liveBytes);
        check(stripe.allocations - stripe.frees == liveBlocks,
                "stripe %d counts %d allocations and %d frees, but has %d live blocks",
                stripe.index, stripe.allocations, stripe.frees, liveBlocks);
        return new StripeWalk(liveBytes, empty);
    }

    /** What a stripe's walk found: the bytes its in-use blocks say they hold, and its empty regions. */
    private record StripeWalk(long liveBytes, int emptyRegions) {}

    private record RegionWalk(long liveBytes, int liveBlocks) {}

    /** Where a check looks: in a region's walk (bin -1) or in a stripe's bin; put in words only when one fails. */
    private record Where(Region region, Stripe stripe, int bin, long block) {
        @Override
        public String toString() {
            return (region != null ? region.toString() : "stripe " + stripe.index + ", bin " + bin)
                    + ", block 0x" + Long.toHexString(block);
        }
    }

    private RegionWalk walk(Region region, Set<Long> freeBlocks) {
        long block = region.firstBlock();
        long end = region.epilogue();
        boolean prevInUse = true;
        long liveBytes = 0;
        int liveBlocks = 0;
        while (block < end) {
            long header = Block.header(block);
            long size = Block.sizeOfHeader(header);
            Where where = new Where(region, null, -1, block);
            check(size >= Block.MIN_SIZE && size % Block.GRANULE == 0, "%s: size %d is not a block size", where,
                    size);
            check(size <= end - block, "%s: size %d runs past the epilogue at 0x%x", where, size, end);
            check(((header & Block.PREV_IN_USE) != 0) == prevInUse, "%s: PREV_IN_USE says %s but the block before is %s",
                    where, (header & Block.PREV_IN_USE) != 0, prevInUse ? "in use" : "free");
            boolean inUse = (header & Block.IN_USE) != 0;
            long payload = Block.payload(block);
            if (inUse) {
                if (heap.hardening() != null) { // its check bits, and that it fits before the next live block
                    check(region.isLive(payload), "%s: in use but not marked live", where);
                    heap.hardening().checkInUse(region, payload);
                }
                long byteSize = Block.byteSize(block);
                long alignment = Block.alignment(block);
                check(byteSize >= 0 && byteSize <= size - Block.HEADER, "%s: holds %d bytes in a block of %d",
                        where, byteSize, size);
                check(payload % alignment == 0, "%s: payload not aligned to %d", where, alignment);
                check(region.isLive(payload), "%s: in use but not marked live", where);
                check(byteSize + heap.tailBytes() <= size - Block.HEADER, "%s: no room for the canary after %d bytes",
                        where, byteSize);
                // A claimed block is being freed, or poisoned in the quarantine: only the user's carry a canary.
                if (heap.hardening() != null && !region.isClaimed(payload)) {
                    heap.hardening().checkCanary(payload, byteSize);
                }
                liveBytes += byteSize;
                liveBlocks++;
            } else {
                check(prevInUse, "%s: two free blocks touch", where);
                check(Block.footer(block, size) == size, "%s: footer %d does not repeat size %d", where,
                        Block.footer(block, size), size);
                check(!region.isLive(payload), "%s: free but marked live", where);
                check(!region.isClaimed(payload), "%s: free but claimed", where);
                freeBlocks.add(block);
            }
            prevInUse = inUse;
            block += size;
        }
        check(block == end, "%s: blocks end at 0x%x, not at the epilogue", region, block);
        long epilogue = Block.header(end);
        check(Block.sizeOfHeader(epilogue) == 0 && (epilogue & Block.IN_USE) != 0,
                "%s: epilogue header 0x%x is broken", region, epilogue);
        check(((epilogue & Block.PREV_IN_USE) != 0) == prevInUse, "%s: epilogue PREV_IN_USE is wrong", region);
        check(region.liveBlocks == liveBlocks, "%s counts %d live blocks, the walk found %d", region,
                region.liveBlocks, liveBlocks);
        check(region.liveMarks() == liveBlocks, "%s has %d live marks for %d live blocks", region,
                region.liveMarks(), liveBlocks);
        return new RegionWalk(liveBytes, liveBlocks);
    }

    private static void verifyLists(Stripe stripe, Set<Long> freeBlocks) {
        int listed = 0;
        for (int bin = 0; bin < FreeList.BIN_COUNT; bin++) {
            long head = stripe.bins.head(bin);
            check(stripe.bins.bitmapsSayNonEmpty(bin) == (head != 0), "stripe %d: the bitmaps say bin %d is %s",
                    stripe.index, bin, head != 0 ? "empty, but it is not" : "non-empty, but it is empty");
            long prev = 0;
            for (long block = head; block != 0; block = stripe.bins.next(block)) {
                Where where = new Where(null, stripe, bin, block);
                check(freeBlocks.contains(block), "%s: listed but not a free block of the stripe's regions", where);
                check(listed++ < freeBlocks.size(), "%s: the list has a cycle", where);
                check(FreeList.binOf(Block.size(block)) == bin, "%s: size %d belongs in bin %d", where,
                        Block.size(block), FreeList.binOf(Block.size(block)));
                check(stripe.bins.prev(block) == prev, "%s: prev link 0x%x, expected 0x%x", where,
                        stripe.bins.prev(block), prev);
                prev = block;
            }
        }
        check(listed == freeBlocks.size(), "stripe %d: %d free blocks, but %d listed: a free block is missing from"
                + " its list", stripe.index, freeBlocks.size(), listed);
    }

    @SuppressWarnings("AnnotateFormatMethod") // Error Prone's @FormatMethod would be a run-time dependency
    private static void check(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new IllegalStateException("heap check failed: " + String.format(Locale.ROOT, format, args));
        }
    }
}
