package io.memalloc.internal.heap;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock, the regions it owns and the free blocks in them: the unit of concurrency of a {@link Heap}.
 *
 * <pre>
 *  Stripe k
 *  +-- lock ---------------------------------------------------------------+
 *  | bins (FreeList): free blocks of every region below, by size class      |
 *  | regions:  [region A] [region B] ...   (each region belongs to one stripe)
 *  | counters: allocatedBytes, allocations, frees                          |
 *  +-----------------------------------------------------------------------+
 * </pre>
 *
 * <p>A thread allocates from the stripe its id hashes to, or from any other it can lock without waiting
 * ({@link Heap#allocate}); a block always goes back to the stripe of its region. Every method here expects the caller
 * to hold {@link #lock} and makes no system call: mapping and unmapping happen in {@link Heap}, outside the lock.
 * {@link java.util.concurrent.locks.ReentrantLock} rather than {@code synchronized}, so that a virtual thread that
 * waits does not pin its carrier on Java 22 and 23.
 */
final class Stripe {
    final int index;
    final ReentrantLock lock = new StripeLock();
    final FreeList bins;
    final List<Region> regions = new ArrayList<>();
    private final RegionTable<Region> table;
    private final EmptyRegions emptyRegions;
    /** A hardened heap's secrets and checks, or null: see {@link Hardening}. */
    private final Hardening hardening;
    /**
     * Told of a block a hardened heap found damaged and keeps out of use for good (taken out of its list, or a
     * region kept), with the operation that found it: the heap reports it, as nobody is there to throw it to.
     */
    private final BiConsumer<String, DamagedBlockException> keptOut;

    /** Bytes asked for by the live blocks of this stripe. */
    long allocatedBytes;
    long allocations;
    long frees;

    /**
     * @param hardening a hardened heap's secrets, whose free lists encode and check their links; else null
     * @param keptOut   told of each damaged block a hardened heap keeps out of use
     */
    Stripe(int index, RegionTable<Region> table, EmptyRegions emptyRegions, Hardening hardening,
           BiConsumer<String, DamagedBlockException> keptOut) {
        this.index = index;
        this.table = table;
        this.emptyRegions = emptyRegions;
        this.hardening = hardening;
        this.keptOut = keptOut;
        this.bins = hardening == null ? new FreeList() : new FreeList(hardening.linkKey(), this::isFreeBlock);
    }

    /**
     * Whether {@code block} is the start of a free block in one of this stripe's regions: what a hardened free list
     * checks a link against. Reads the header only once the address is known to lie in a region of ours.
     */
    private boolean isFreeBlock(long block) {
        Region region = table.find(block);
        return region != null && region.stripe == this && block >= region.firstBlock() && block < region.epilogue()
                && ((block - region.firstBlock()) & (Block.GRANULE - 1)) == 0 && !Block.isInUse(block);
    }

    /**
     * Takes a block for {@code byteSize} bytes at {@code alignment} from the free blocks of this stripe.
     *
     * @param blockSize {@link Block#sizeFor}{@code (byteSize)}
     * @param zero      whether the payload must read as zero
     * @return the payload address, or 0 when no free block fits
     */
    long allocate(long byteSize, long blockSize, long alignment, boolean zero) {
        // The front gap before an aligned payload is either nothing or a free block of its own, so ask for enough
        // to skip one more alignment step when the gap would be too small to be a block.
        long need = alignment <= Block.GRANULE ? blockSize : blockSize + alignment + Block.MIN_SIZE;
        long block;
        long size;
        while (true) {
            block = bins.find(need);
            if (block == 0) {
                return 0;
            }
            if (hardening == null) {
                size = Block.size(block);
                break;
            }
            size = checkedFreeSize(block, need);
            if (size != 0) {
                break;
            }
        }
        // A free block follows one in use, or starts its region: a hardened heap does not ask its header.
        boolean prevInUse = hardening != null || Block.isPrevInUse(block);
        bins.remove(block, size);
        if (alignment > Block.GRANULE) {
            long payload = Block.payload(block);
            long aligned = (payload + alignment - 1) & -alignment;
            long gap = aligned - payload;
            if (gap != 0 && gap < Block.MIN_SIZE) {
                gap += alignment;
            }
            if (gap != 0) {
                Block.setFree(block, gap, prevInUse);
                bins.insert(block, gap);
                block += gap;
                size -= gap;
                prevInUse = false;
            }
        }
        return takeBlock(block, size, prevInUse, byteSize, blockSize, alignment, zero);
    }

    /** Makes the free, unlisted block an in-use block of {@code blockSize}, giving back what is left over. */
    private long takeBlock(long block, long size, boolean prevInUse, long byteSize, long blockSize, long alignment,
                           boolean zero) {
        long end = splitTail(block, size, blockSize);
        long used = end - block;
        Block.setInUse(block, used, prevInUse, byteSize, alignment);
        if (hardening != null) {
            hardening.seal(block);
        }
        long payload = Block.payload(block);
        Region region = regionOf(block);
        if (region.liveBlocks++ == 0) {
            emptyRegions.leave();
        }
        region.markLive(payload);
        region.handOut(payload, payload + byteSize, end, zero);
        allocatedBytes += byteSize;
        allocations++;
        return payload;
    }

    /**
     * Cuts the block at {@code block} of {@code size} bytes down to {@code need} bytes when the rest can be a free
     * block of its own, and lists that rest; else marks the next block's PREV_IN_USE.
     *
     * @return where the block now ends
     */
    private long splitTail(long block, long size, long need) {
        long rest = size - need;
        if (rest >= Block.MIN_SIZE) {
            long tail = block + need;
            Block.setFree(tail, rest, true);
            bins.insert(tail, rest);
            return tail;
        }
        Block.setPrevInUse(block + size, true);
        return block + size;
    }

    /**
     * Frees the in-use block whose payload is at {@code payload}, merging it with free neighbours.
     *
     * <p>The caller has checked with {@link Region#isLive} that it is one. When that leaves the region empty and the
     * heap's cache of empty regions is full, the region leaves the stripe and the table and is returned for the
     * caller to unmap once it has let go of the lock.
     *
     * @return a region to unmap, or null
     */
    Region free(Region region, long payload) {
        long block = Block.ofPayload(payload);
        long header;
        long nextSize; // of the free block just after, or 0
        long prev; // the free block just before, or 0
        if (hardening != null) { // the header and both neighbours checked against the live bits, before any write
            header = hardening.checkInUse(region, payload);
            nextSize = freeSizeAfter(region, block + Block.sizeOfHeader(header));
            prev = hardening.freeBlockBefore(region, block);
            if (prev != 0) {
                bins.checkListed(prev, block - prev);
            }
        } else {
            header = Block.header(block);
            nextSize = freeSizeAfter(region, block + Block.sizeOfHeader(header));
            prev = (header & Block.PREV_IN_USE) != 0 ? 0 : block - Block.prevFooter(block);
        }
        long size = Block.sizeOfHeader(header);
        allocatedBytes -= Block.byteSizeOfHeader(header);
        frees++;
        region.clearLive(payload);
        region.liveBlocks--;

        if (nextSize != 0) {
            bins.remove(block + size, nextSize);
            size += nextSize;
        }
        boolean prevInUse = true;
        if (prev != 0) {
            long prevSize = block - prev;
            block = prev;
            bins.remove(block, prevSize);
            size += prevSize;
            prevInUse = hardening != null || Block.isPrevInUse(block); // as in allocate
        }
        if (region.liveBlocks == 0 && !emptyRegions.tryKeep()) {
            detach(region);
            return region;
        }
        Block.setFree(block, size, prevInUse);
        bins.insert(block, size);
        Block.setPrevInUse(block + size, false);
        return null;
    }

    /**
     * Resizes the in-use block at {@code payload} to hold {@code newByteSize} bytes without moving it: shrinking
     * always works, growing works when the next block is free and big enough.
     *
     * @param header the block's header, read under this lock (and checked, in a hardened heap): what is known of it
     * @return whether it was resized; when not, nothing changed
     */
    boolean resizeInPlace(Region region, long payload, long header, long newByteSize, long newBlockSize) {
        long block = Block.ofPayload(payload);
        long size = Block.sizeOfHeader(header);
        long oldByteSize = Block.byteSizeOfHeader(header);
        long alignment = Block.alignmentOfHeader(header);
        boolean prevInUse = (header & Block.PREV_IN_USE) != 0;
        long end;
        if (newBlockSize <= size) {
            end = shrinkTail(region, block, size, newBlockSize);
        } else {
            long next = block + size;
            long nextSize = freeSizeAfter(region, next);
            if (nextSize == 0 || size + nextSize < newBlockSize) {
                return false;
            }
            bins.remove(next, nextSize);
            end = splitTail(block, size + nextSize, newBlockSize);
        }
        Block.setInUse(block, end - block, prevInUse, newByteSize, alignment);
        if (hardening != null) {
            hardening.seal(block);
        }
        if (newByteSize > oldByteSize) {
            region.handOut(payload + oldByteSize, payload + newByteSize, end, true);
        }
        allocatedBytes += newByteSize - oldByteSize;
        return true;
    }

    /** Gives back the tail of an in-use block beyond {@code need} bytes, merged with a free next block. */
    private long shrinkTail(Region region, long block, long size, long need) {
        long next = block + size;
        long nextSize = freeSizeAfter(region, next);
        long rest = size - need;
        if (nextSize != 0) {
            bins.remove(next, nextSize);
            rest += nextSize;
        } else if (rest < Block.MIN_SIZE) {
            return next;
        }
        long tail = block + need;
        Block.setFree(tail, rest, true);
        bins.insert(tail, rest);
        Block.setPrevInUse(tail + rest, false);
        return tail;
    }

    /**
     * The size of the free block a list named, in a hardened heap, once checked ({@link Hardening#checkFree}); or 0
     * when it is damaged but its links are whole: it is then out of the list and of use for good, and reported
     * through {@link #keptOut}, and the caller looks for another.
     *
     * @throws DamagedBlockException when it is damaged and cannot be taken out of its list, or it is smaller than
     *                               {@code need} (what the list's search read of it is not what the check read)
     */
    private long checkedFreeSize(long block, long need) {
        long size;
        try {
            size = Hardening.checkFree(regionOf(block), block);
            bins.checkListed(block, size);
        } catch (DamagedBlockException damaged) {
            if (!bins.unlink(block)) {
                throw damaged;
            }
            keptOut.accept("allocate", damaged);
            return 0;
        }
        if (size < need) {
            throw new DamagedBlockException(block, String.format("the free block at 0x%x changed while it was"
                    + " taken: %d bytes, not the %d or more its list's search read", block, size, need));
        }
        return size;
    }

    /**
     * The size of the block at {@code next}, just after an in-use block, when it is free; else 0. In a hardened heap
     * whether it is free comes from the live bits, and a free one is checked ({@link Hardening#freeSizeAt}) and
     * must be in its list; else both come from its header.
     */
    private long freeSizeAfter(Region region, long next) {
        if (hardening == null) {
            return Block.isInUse(next) ? 0 : Block.size(next);
        }
        long size = Hardening.freeSizeAt(region, next);
        if (size != 0) {
            bins.checkListed(next, size);
        }
        return size;
    }

    /** Adds a freshly mapped and {@link Region#initialize initialized} region, as one free block. */
    void addRegion(Region region) {
        regions.add(region);
        emptyRegions.added();
        bins.insert(region.firstBlock(), region.wholeBlockSize());
    }

    /**
     * Takes out a region just added for a request that a block of another region served instead (one freed there
     * while this one was mapped), unless the empty regions kept have room for it: else, with no cache of empty
     * regions, it would stay mapped unused until a trim.
     *
     * @return the region, for the caller to unmap once it lets go of the lock; or null when it is used, or kept
     */
    Region leaveIfUnused(Region region) {
        if (region.liveBlocks != 0) {
            return null;
        }
        emptyRegions.leave(); // it counted as empty from addRegion on: now it asks for a place as any other
        if (emptyRegions.tryKeep()) {
            return null;
        }
        bins.remove(region.firstBlock(), region.wholeBlockSize());
        detach(region);
        return region;
    }

    /** Takes every empty region out of this stripe, for the caller to unmap. */
    List<Region> detachEmptyRegions() {
        List<Region> empty = new ArrayList<>();
        for (Region region : regions) {
            if (region.liveBlocks == 0) {
                try {
                    bins.checkListed(region.firstBlock(), region.wholeBlockSize()); // before any leaves
                    empty.add(region);
                } catch (DamagedBlockException damaged) { // kept: its block cannot leave its list
                    keptOut.accept("trim", damaged);
                }
            }
        }
        for (Region region : empty) {
            bins.remove(region.firstBlock(), region.wholeBlockSize());
            emptyRegions.leave();
            detach(region);
        }
        return empty;
    }

    /** Takes every region out of this stripe, in use or not, and forgets their blocks: the heap is closing. */
    List<Region> detachAll() {
        List<Region> all = new ArrayList<>(regions);
        for (Region region : all) {
            if (region.liveBlocks == 0) {
                emptyRegions.leave();
            }
            detach(region);
        }
        bins.clear();
        allocatedBytes = 0;
        return all;
    }

    private void detach(Region region) {
        regions.remove(region);
        table.remove(region);
        region.released = true;
    }

    /** The region of a block of this stripe. */
    Region regionOf(long block) {
        Region region = table.find(block);
        assert region != null && region.stripe == this : "block 0x" + Long.toHexString(block) + " not in stripe";
        return region;
    }
}
