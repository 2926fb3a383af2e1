package io.memalloc.internal.heap;

/**
 * Which small-block {@link Page} holds an address, for every heap of the process: a two-level table over the
 * 48-bit address space, the Java counterpart of mimalloc finding a segment from a pointer by masking it. A free
 * finds its page in two dependent loads, without a lock and without reading native memory.
 *
 * <pre>
 *  address bits:  63..48 zero | 47..32 leaf | 31..16 page in leaf | 15..0 offset in the page
 *
 *  ROOT[leaf] ──> Page[65536], one for each 4 GiB of address space that has held pages, made on first use
 *                   [page in leaf] ──> the Page there, or null
 * </pre>
 *
 * <p>A page is put in the map when it is carved and removed when it goes back to its region, both under the lock
 * of its {@link PageRegions}; a region is unmapped only once none of its pages is in the map. Reads are plain: the
 * caller has its address from an allocation, so the put that preceded it happened-before the read. Pages of all
 * heaps share the map: a caller checks that the page it finds is its own ({@link Page#regions}).
 *
 * <p>Its cost in Java heap: the root, 65,536 references (256 KiB with compressed references), and 256 KiB for each
 * 4 GiB window of addresses that has held a page, kept for the life of the process. The operating systems this
 * library runs on give user space at most 48 bits of address; a region mapped above that cannot hold pages
 * ({@link #covers}).
 */
final class PageMap {
    /** The addresses the map covers: below 2^48. */
    static final long LIMIT = 1L << 48;
    private static final int LEAF_SHIFT = 32;
    private static final int LEAF_PAGES = 1 << (LEAF_SHIFT - Page.SHIFT);
    private static final Page[][] ROOT = new Page[(int) (LIMIT >>> LEAF_SHIFT)][];
    /**
     * The leaf made last, with its index: read before the address is known, so that a find in that window (in most
     * processes every page lies in one) waits for one load after the address, not two.
     */
    private static Hot hot = new Hot(-1, null);

    /** Final fields: a racing find sees both of a pair, or the pair before. */
    private static final class Hot {
        final int index;
        final Page[] leaf;

        Hot(int index, Page[] leaf) {
            this.index = index;
            this.leaf = leaf;
        }
    }

    private PageMap() {}

    /** The page that holds {@code address}, of any heap, or null. */
    static Page find(long address) {
        if (address >>> 48 != 0) {
            return null;
        }
        Hot last = hot;
        int index = (int) (address >>> LEAF_SHIFT);
        Page[] leaf = index == last.index ? last.leaf : ROOT[index];
        return leaf == null ? null : leaf[(int) (address >>> Page.SHIFT) & (LEAF_PAGES - 1)];
    }

    /** Whether the {@code byteSize} bytes at {@code base} lie below {@link #LIMIT}, so that they can hold pages. */
    static boolean covers(long base, long byteSize) {
        return base >= 0 && byteSize >= 0 && base <= LIMIT - byteSize;
    }

    /** Puts {@code page} at its address; synchronized for the leaves, which heaps on several threads may make. */
    static synchronized void put(Page page) {
        int index = (int) (page.base >>> LEAF_SHIFT);
        Page[] leaf = ROOT[index];
        if (leaf == null) {
            leaf = new Page[LEAF_PAGES];
            ROOT[index] = leaf;
            hot = new Hot(index, leaf);
        }
        leaf[slotOf(page.base)] = page;
    }

    /**
     * Removes {@code page} from the map; a later {@link #find} of its addresses gives null. Synchronized as
     * {@link #put} is, so that the removal is ordered before the put of a page that another heap maps there after
     * the unmap.
     */
    static synchronized void remove(Page page) {
        Page[] leaf = ROOT[(int) (page.base >>> LEAF_SHIFT)];
        leaf[slotOf(page.base)] = null;
    }

    private static int slotOf(long address) {
        return (int) (address >>> Page.SHIFT) & (LEAF_PAGES - 1);
    }
}
