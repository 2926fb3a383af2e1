package io.memalloc.internal.heap;

/**
 * A region mapped for small blocks: {@code size} bytes aligned to their size, cut into {@link Page}s of 64 KiB.
 * Unlike a {@link Region} it holds nothing of the allocator in its memory; which page holds an address is found in
 * {@link PageMap}, where each page is put when carved and removed when given back.
 *
 * <pre>
 *  base (a multiple of size)                                                       base + size
 *  +-----------+-----------+-----------+-- ... --+-----------+
 *  | slot 0    | slot 1    | slot 2    |         | slot n-1  |    n = size / 64 KiB
 *  | page of   | (free)    | page of   |         | page of   |
 *  | 48 B      |           | 1024 B    |         | 48 B      |
 *  +-----------+-----------+-----------+-- ... --+-----------+
 *  pages[]:  Page, null, Page, ..., Page
 * </pre>
 *
 * <p>Slots are taken and given back under the lock of {@link PageRegions}. A slot that held a page is dirty: the
 * next page there zeroes what it hands out when asked to zero, where a slot never used since the mapping reads as
 * zero already.
 */
final class PageRegion {
    /** The heap's regions, this one among them. */
    final PageRegions regions;
    final long base;
    final long size;
    private final Page[] pages;
    /** One bit per slot: set while the slot holds no page. */
    private final long[] freeSlots;
    /** One bit per slot: set once the slot has held a page. */
    private final long[] dirtySlots;
    int freeSlotCount;

    PageRegion(PageRegions regions, long base, long size) {
        this.regions = regions;
        this.base = base;
        this.size = size;
        int slots = (int) (size >>> Page.SHIFT);
        this.pages = new Page[slots];
        this.freeSlots = new long[(slots + 63) >>> 6];
        this.dirtySlots = new long[freeSlots.length];
        for (int i = 0; i < slots; i++) {
            freeSlots[i >>> 6] |= 1L << i;
        }
        this.freeSlotCount = slots;
    }

    int slotCount() {
        return pages.length;
    }

    Page pageInSlot(int slot) {
        return pages[slot];
    }

    /** Carves a page of {@code sizeClass} in a free slot for {@code owner}; null when none is free. Under the lock. */
    Page carve(int sizeClass, ThreadHeap owner) {
        for (int w = 0; w < freeSlots.length; w++) {
            long bits = freeSlots[w];
            if (bits != 0) {
                int slot = (w << 6) | Long.numberOfTrailingZeros(bits);
                boolean zeroed = (dirtySlots[w] & (1L << slot)) == 0;
                Page page = new Page(this, slot, sizeClass, zeroed, owner);
                freeSlots[w] = bits & (bits - 1);
                dirtySlots[w] |= 1L << slot;
                freeSlotCount--;
                pages[slot] = page;
                PageMap.put(page);
                return page;
            }
        }
        return null;
    }

    /** Gives the slot of {@code page} back. Under the lock. */
    void release(Page page) {
        PageMap.remove(page);
        pages[page.slot] = null;
        freeSlots[page.slot >>> 6] |= 1L << page.slot;
        freeSlotCount++;
    }

    /** Takes every page out of {@link PageMap}: the heap closes, and frees of its blocks find no page. */
    void removePages() {
        for (Page page : pages) {
            if (page != null) {
                PageMap.remove(page);
            }
        }
    }

    boolean isEmpty() {
        return freeSlotCount == pages.length;
    }

    /** Whether no page of this region has a block in use; a hint while other threads allocate. */
    boolean holdsNoBlock() {
        for (Page page : pages) {
            if (page != null && page.used > 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "page region 0x" + Long.toHexString(base) + " (" + Sizes.format(size) + ")";
    }
}
