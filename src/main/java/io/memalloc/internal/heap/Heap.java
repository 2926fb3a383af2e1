package io.memalloc.internal.heap;

import io.memalloc.internal.event.FaultDetectedEvent;
import io.memalloc.internal.heap.LargeBlocks.LargeBlock;
import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A heap: regions mapped from the OS, carved into blocks, spread over lock stripes; and large blocks, each a mapping
 * of its own. Addresses in, addresses out: segments and argument checks are the caller's.
 *
 * <pre>
 *  allocate(n)                        free(p)
 *    |                                  |
 *    +-- block above largeThreshold? -> +-- p in a region? (RegionTable, no lock) ---- no --> LargeBlocks
 *    |   (half a region, at most 1 MiB) |     yes: lock p's stripe, check p is live, free
 *    |   yes: LargeBlocks, own map      |
 *    v                                  v
 *  stripes[home], then each other one with tryLock; then wait for home; then map a region (no lock held)
 * </pre>
 *
 * <p>System calls (map, unmap) are made with no stripe lock held, except {@code purge} (in {@link #trim}, and of an
 * empty region kept beside another), which must keep the block from being handed out while its pages are given
 * back.
 *
 * <p>When the OS layer fails:
 * <ul>
 * <li>a map it refuses, or one whose address the heap cannot use (0, not aligned as asked, or reaching past
 *     {@link AddressSpace#USER_END}), is an {@link OutOfMemoryError} of the request and changes nothing: a bad
 *     mapping is given back at once and never counted;</li>
 * <li>an unmap it refuses leaves the mapping mapped, counted in {@code mappedBytes} and kept in
 *     {@link OwedMappings}, which trim, close and a request at the cap try again. The call during which it failed
 *     finishes its work (a free has freed its block) and then throws the {@link IllegalStateException}, except
 *     allocate and reallocate, which must return the block they made and log the failure as a warning;</li>
 * <li>a purge it refuses leaves that block as it was, not marked purged; trim purges the rest and then throws.</li>
 * </ul>
 */
public final class Heap {
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(Heap.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Stands for the stripe of a large block's own mapping, which has none, in events. */
    private static final int NO_STRIPE = -1;
    /** The stripe events name for a region of small-block pages, which belongs to no stripe. */
    private static final int PAGES = -2;

    private final String name;
    private final OsMemory os;
    /** Canaries and poison when hardened, else null; see {@link Hardening}. */
    private final Hardening hardening;
    /** Freed blocks held back when hardened, else null. */
    private final Quarantine quarantine;
    /** Bytes every block holds past its request: the canary's when hardened, else none. */
    private final long tail;
    /** Bytes of guard at the end of each large block's mapping: a page when asked for, else none. */
    private final long guard;
    private final long regionSize;
    /**
     * Blocks (with their alignment padding) above this size get a mapping of their own: half a region, and at most
     * {@link #MAX_LARGE_THRESHOLD}. From 1 MiB a mapping of its own wastes less than 0.4% (a page at most; 6% on
     * Windows, whose mappings come in 64 KiB), and once freed it serves the next request of about its size as a
     * spare, without a lock: 1 MiB allocate + free took 80 ns from a region, about 52 ns so (libc: 51 ns).
     */
    private final long largeThreshold;
    private final long maxMappedBytes;
    private final RegionTable<Region> table;
    private final Stripe[] stripes;
    private final EmptyRegions emptyRegions;
    private final LargeBlocks large = new LargeBlocks();
    private final SpareMappings spares;
    private final Mappings mappings;
    /** Set once, by {@link #close}: a field, not an AtomicBoolean, so that the allocation's check is one load. */
    private volatile boolean closed;
    /** The small-block engine; null in a hardened heap, whose small blocks are the stripes'. */
    private final SmallBlocks small;

    /** A heap whose blocks are zeroed through the segment over all memory, of the global scope. */
    public Heap(OsMemory os, HeapConfig config) {
        this(os, config, AddressSpace.all());
    }

    /**
     * @param memory the address space as the heap's users see it: small blocks are zeroed through it (see
     *               {@link SmallBlocks}), so that the close of its scope waits out a thread that is zeroing
     */
    public Heap(OsMemory os, HeapConfig config, MemorySegment memory) {
        if (config.regionSize() % os.granularity() != 0) {
            throw new IllegalArgumentException("regionSize " + config.regionSize()
                    + " is not a multiple of the OS mapping granularity " + os.granularity());
        }
        this.name = config.name();
        this.os = os;
        this.hardening = config.hardened() ? new Hardening() : null;
        this.quarantine = config.hardened() ? new Quarantine() : null;
        this.tail = config.hardened() ? Hardening.CANARY_BYTES : 0;
        this.guard = config.guardPages() ? os.pageSize() : 0;
        this.regionSize = config.regionSize();
        this.largeThreshold = Math.min(regionSize / 2, MAX_LARGE_THRESHOLD);
        this.maxMappedBytes = config.maxMappedBytes();
        this.mappings = new Mappings(name, os, maxMappedBytes, this::giveBackForRoom);
        this.table = new RegionTable<>(regionSize, r -> r.base);
        this.emptyRegions = new EmptyRegions(config.cachedRegions());
        this.stripes = new Stripe[config.stripes()];
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new Stripe(i, table, emptyRegions, hardening, this::keptOut);
        }
        this.small = config.hardened() ? null : new SmallBlocks(name,
                new PageRegions(regionSize, emptyRegions, new PageRegions.Mapper() {
                    @Override
                    public long map(long byteSize, long request) {
                        return mappings.map(byteSize, byteSize, request, PAGES);
                    }

                    @Override
                    public void unmap(long base, long byteSize) {
                        unmapOrWarn(base, byteSize);
                    }
                }),
                memory, stripes.length, config.cachedRegions() > 0, this::unmap, this::unmapOrWarn);
        this.spares = new SpareMappings(config.spareMappings(), SPARE_REGIONS * regionSize);
    }

    /** Spare large mappings ({@link SpareMappings}) hold at most this many regions' bytes in all. */
    private static final long SPARE_REGIONS = 16;
    /** See {@link #largeThreshold}. */
    static final long MAX_LARGE_THRESHOLD = 1 << 20;

    /**
     * Allocates {@code byteSize} bytes at {@code alignment}.
     *
     * @param byteSize  not negative
     * @param alignment a power of two
     * @param zero      whether the bytes must read as zero
     * @return the address
     * @throws OutOfMemoryError when the memory cannot be mapped, or {@code maxMappedBytes} would be exceeded
     * @throws IllegalStateException when the heap is closed
     */
    public long allocate(long byteSize, long alignment, boolean zero) {
        checkOpen();
        if (small != null && byteSize <= SizeClasses.MAX_SIZE) {
            int sizeClass = alignment <= Block.GRANULE ? SizeClasses.of(byteSize) : SizeClasses.of(byteSize, alignment);
            if (sizeClass >= 0) {
                return small.allocate(sizeClass, byteSize, zero);
            }
        }
        if (hardening != null) {
            long payload = allocateUncached(byteSize, blockSizeFor(byteSize), alignment, zero);
            hardening.writeCanary(payload, byteSize);
            return payload;
        }
        return allocateUncached(byteSize, Block.sizeFor(byteSize), alignment, zero);
    }

    private long allocateUncached(long byteSize, long blockSize, long alignment, boolean zero) {
        if (isLarge(blockSize, alignment)) {
            return allocateLarge(byteSize, alignment, zero);
        }
        return allocateFromStripes(byteSize, blockSize, alignment, zero);
    }

    /** The size of the block for a request: with room for the canary when hardened; negative when it overflows. */
    private long blockSizeFor(long byteSize) {
        return Block.sizeFor(byteSize + tail);
    }

    /** Allocates from the stripes: the thread's own, any other free at once, its own again, then a new region. */
    private long allocateFromStripes(long byteSize, long blockSize, long alignment, boolean zero) {
        int home = homeStripe();
        for (int i = 0; i < stripes.length; i++) {
            long payload = allocateIn(stripes[(home + i) & (stripes.length - 1)], false, byteSize, blockSize,
                    alignment, zero);
            if (payload != 0) {
                return payload;
            }
        }
        Stripe stripe = stripes[home];
        long payload = allocateIn(stripe, true, byteSize, blockSize, alignment, zero);
        if (payload != 0) {
            return payload;
        }
        if (mappings.mappedBytes() > maxMappedBytes - regionSize) {
            // Near the cap, a busy stripe skipped above may still hold a fitting block: wait for each in turn
            // before mapping, so that OutOfMemoryError means the memory really is not there.
            for (Stripe other : stripes) {
                payload = allocateIn(other, true, byteSize, blockSize, alignment, zero);
                if (payload != 0) {
                    return payload;
                }
            }
        }
        Region region = mapRegion(stripe, byteSize);
        Region unused = null;
        stripe.lock.lock();
        try {
            if (!closed) {
                stripe.addRegion(region);
                payload = stripe.allocate(byteSize, blockSize, alignment, zero);
                assert payload != 0 : "a fresh region must hold a block of " + blockSize;
                // A block freed in another region while this one was mapped may have served the request instead.
                unused = stripe.leaveIfUnused(region);
            } else {
                table.remove(region);
            }
        } catch (DamagedBlockException damaged) { // a block of another region, which the search took first
            throw reported("allocate", damaged);
        } finally {
            stripe.lock.unlock();
        }
        if (payload == 0) {
            throw closedAfterUnmapping(region.base, region.size, stripe.index);
        }
        if (unused != null) {
            unmapOrWarn(List.of(unused)); // the request is met: a refused unmap is only logged
        }
        return payload;
    }

    /**
     * Allocates from {@code stripe}, waiting for its lock or not.
     *
     * @return the payload, or 0 when no free block fits or, not waiting, the lock is taken
     */
    private long allocateIn(Stripe stripe, boolean wait, long byteSize, long blockSize, long alignment,
                            boolean zero) {
        if (wait) {
            stripe.lock.lock();
        } else if (!stripe.lock.tryLock()) {
            return 0;
        }
        try {
            checkOpen();
            return stripe.allocate(byteSize, blockSize, alignment, zero);
        } catch (DamagedBlockException damaged) {
            throw reported("allocate", damaged);
        } finally {
            stripe.lock.unlock();
        }
    }

    /**
     * Whether a request needs a mapping of its own: its block with its alignment padding is above
     * {@link #largeThreshold} (or so large that it overflowed).
     */
    private boolean isLarge(long blockSize, long alignment) {
        long padding = alignment > Block.GRANULE ? alignment + Block.MIN_SIZE : 0;
        return blockSize < 0 || blockSize > largeThreshold || padding > largeThreshold - blockSize;
    }

    private long allocateLarge(long byteSize, long alignment, boolean zero) {
        long mappingSize = largeMappingSize(byteSize);
        if (mappingSize <= 0) {
            throw mappings.failed(byteSize, new OutOfMemoryError("MemAlloc cannot map " + byteSize
                    + " bytes: more than the address space"));
        }
        long mappingAlignment = Math.max(alignment, os.granularity());
        LargeBlock block = zero ? null : spares.take(mappingSize, mappingAlignment);
        if (block != null) { // a spare of this heap: still registered, and with its guard already
            block.reuse(byteSize, alignment);
        } else {
            block = new LargeBlock(mapGuarded(mappingSize, mappingAlignment, byteSize), mappingSize, byteSize,
                    alignment, byteSize + tail);
            large.add(block);
        }
        if (closed) {
            throw closedMeanwhile(block);
        }
        large.countAllocated();
        return block.address();
    }

    /** The heap closed while {@code block} was handed out: unmaps it unless close did, and returns what to throw. */
    private IllegalStateException closedMeanwhile(LargeBlock block) {
        return large.remove(block) ? closedAfterUnmapping(block.address(), block.mappingSize(), NO_STRIPE)
                : closedException();
    }

    /**
     * The mapping a large block of {@code byteSize} bytes needs: the request, the canary if hardened and the guard
     * page if asked for, in whole units of the OS granularity; 0 or less when that overflows.
     *
     * <pre>
     *  address                                                    address + mappingSize
     *  | payload: byteSize | canary | rest of the page(s) ... | guard page (PROT_NONE) |
     * </pre>
     */
    private long largeMappingSize(long byteSize) {
        long granularity = os.granularity();
        return (Math.max(byteSize + tail, 1) + guard + granularity - 1) & -granularity;
    }

    /** Maps a large block's mapping and, when guard pages are asked for, makes its last page a guard. */
    private long mapGuarded(long mappingSize, long alignment, long request) {
        long address = mappings.map(mappingSize, alignment, request, NO_STRIPE);
        if (guard > 0) {
            try {
                os.protect(address + mappingSize - guard, guard);
            } catch (IllegalStateException refused) {
                OutOfMemoryError error = new OutOfMemoryError("MemAlloc: the guard page after a large block of "
                        + request + " bytes could not be made: " + refused.getMessage());
                try {
                    mappings.unmap(address, mappingSize, NO_STRIPE);
                } catch (IllegalStateException alsoRefused) {
                    error.addSuppressed(alsoRefused); // the mapping stays counted, and owed
                }
                throw mappings.failed(request, error);
            }
        }
        return address;
    }

    /** The heap closed while a mapping was made for it: gives that back, and returns the exception to throw. */
    private IllegalStateException closedAfterUnmapping(long address, long byteSize, int stripe) {
        IllegalStateException closedMeanwhile = closedException();
        try {
            mappings.unmap(address, byteSize, stripe);
        } catch (IllegalStateException refused) {
            closedMeanwhile.addSuppressed(refused);
        }
        return closedMeanwhile;
    }

    /**
     * Keeps a large block's mapping, freed, as a spare; unmaps what that pushes out.
     *
     * @throws IllegalStateException when the OS refuses an unmap, once the block is retired
     */
    private void retire(LargeBlock block) {
        block.setState(LargeBlock.SPARE);
        unmapSpares(spares.keep(block));
    }

    /** Unmaps every spare mapping; returns the bytes. */
    private long unmapSpares(boolean close) {
        return unmapSpares(spares.takeAll(close));
    }

    /**
     * Takes each of {@code taken} out of the registry and unmaps it (unless close took it first and unmaps it), even
     * when one is refused; then throws the first refusal, else returns the bytes.
     */
    private long unmapSpares(List<LargeBlock> taken) {
        Failures failures = new Failures();
        long given = 0;
        for (LargeBlock spare : taken) {
            if (!large.remove(spare)) {
                continue;
            }
            try {
                mappings.unmap(spare.address(), spare.mappingSize(), NO_STRIPE);
                given += spare.mappingSize();
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        failures.throwIfAny();
        return given;
    }

    /**
     * Frees the block at {@code address}.
     *
     * @throws IllegalArgumentException when {@code address} is not a live block of this heap: never allocated
     *                                  here, an interior address, or freed already. No memory is read to find out.
     */
    public void free(long address) {
        if (small != null) {
            // No check that the heap is open first: close takes the regions of pages out of the table before it
            // unmaps them, and a free touches no native memory.
            Page page = small.pageOf(address);
            if (page != null) {
                small.free(page, address);
                return;
            }
        }
        checkOpen();
        Region region = table.find(address);
        if (region == null) {
            freeLarge(address);
            return;
        }
        claim(region, address);
        if (hardening != null) {
            long byteSize = checkBlock(region, address, "free");
            unmapRegions(quarantine(region, address, byteSize));
            return;
        }
        freeClaimed(region, address);
    }

    private void freeLarge(long address) {
        LargeBlock block = large.take(address, hardening != null ? LargeBlock.CLAIMED : LargeBlock.SPARE);
        if (block == null) {
            checkOpen(); // close took it
            throw notLive(address);
        }
        if (hardening != null) {
            try {
                hardening.checkCanary(address, block.byteSize());
            } catch (IllegalStateException damaged) {
                putBackAfter(damaged, block);
                FaultDetectedEvent.detected(name, "free", address, damaged);
                throw damaged;
            }
        }
        large.countFreed();
        retire(block);
    }

    /**
     * Checks the header and then the canary of a claimed block of a hardened heap (see {@link Hardening}); when
     * either is damaged, ends the claim (the block stays the user's, and live), reports the fault and throws.
     *
     * @return the size the block was asked for, from its checked header
     */
    private long checkBlock(Region region, long payload, String operation) {
        try {
            long header = hardening.checkInUse(region, payload); // claimed and live: this memory is ours
            long byteSize = Block.byteSizeOfHeader(header);
            hardening.checkCanary(payload, byteSize);
            return byteSize;
        } catch (IllegalStateException damaged) {
            region.unclaim(payload);
            FaultDetectedEvent.detected(name, operation, payload, damaged);
            throw damaged;
        }
    }

    /**
     * Reports a damaged block a hardened heap found on the way through {@code operation} (once: an allocate inside a
     * reallocate does not make it two), and returns it.
     */
    private DamagedBlockException reported(String operation, DamagedBlockException damaged) {
        if (damaged.markReported()) {
            FaultDetectedEvent.detected(name, operation, Block.payload(damaged.block()), damaged);
        }
        return damaged;
    }

    /** Reports a damaged block a hardened heap keeps out of use for good: nobody is there to throw it to. */
    private void keptOut(String operation, DamagedBlockException damaged) {
        LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + name + "': " + reported(operation, damaged).getMessage()
                + "; the block is kept out of use");
    }

    /**
     * Poisons a claimed block its user let go of and holds it in the quarantine; gives back to their stripes the
     * blocks that pushes out.
     *
     * @return the regions that emptied past the cache, for the caller to unmap
     */
    private List<Region> quarantine(Region region, long payload, long byteSize) {
        Hardening.poison(payload, byteSize);
        return release(quarantine.add(region, payload, byteSize));
    }

    /** Gives blocks back from the quarantine; returns the regions that emptied past the cache, to unmap. */
    private List<Region> release(List<Quarantine.Entry> entries) {
        List<Region> emptied = new ArrayList<>();
        for (Quarantine.Entry entry : entries) {
            Region toUnmap = release(entry);
            if (toUnmap != null) {
                emptied.add(toUnmap);
            }
        }
        return emptied;
    }

    /**
     * Gives a block back from the quarantine to its stripe, reporting a write to it while it was there.
     *
     * @return the region, when that emptied it past the cache, for the caller to unmap; else null
     */
    private Region release(Quarantine.Entry entry) {
        long damaged = Hardening.firstDamage(entry.payload(), entry.byteSize());
        if (damaged >= 0) {
            IllegalStateException fault = new IllegalStateException(String.format("the freed block at 0x%x of %d"
                    + " bytes was written after its free, at 0x%x (a use after free)", entry.payload(),
                    entry.byteSize(), damaged));
            FaultDetectedEvent.detected(name, "quarantine", entry.payload(), fault);
            LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + name + "': " + fault.getMessage());
        }
        Region region = entry.region();
        long payload = entry.payload();
        boolean keptOut = false;
        region.stripe.lock.lock();
        try {
            checkOpen();
            checkLive(region, payload);
            return freeToStripe(region, payload);
        } catch (DamagedBlockException e) {
            // Nothing was written: the block stays live and claimed, out of use for good, rather than be merged
            // with what its damaged header or neighbours say.
            keptOut = true;
            keptOut("quarantine", e);
            return null;
        } finally {
            if (!keptOut) {
                region.unclaim(payload);
            }
            region.stripe.lock.unlock();
        }
    }

    /** Gives every quarantined block back to its stripe; returns the regions that emptied past the cache. */
    private List<Region> releaseQuarantine() {
        return quarantine == null ? List.of() : release(quarantine.takeAll());
    }

    /**
     * Claims the block at {@code address} for a free or a reallocate, reading no native memory: the one thread that
     * gets the claim goes on; a second free, racing or late, is refused.
     *
     * @throws IllegalArgumentException when {@code address} is not a live block, or another thread has claimed it
     */
    private static void claim(Region region, long address) {
        if (!region.isLiveNow(address) || !region.claim(address)) {
            throw notLive(address);
        }
        if (!region.isLiveNow(address)) { // freed to the heap between the check and the claim
            region.unclaim(address);
            throw notLive(address);
        }
    }

    /** Frees a claimed block to its stripe; the claim ends under the lock, before the block can be handed out. */
    private void freeClaimed(Region region, long address) {
        Stripe stripe = region.stripe;
        Region toUnmap;
        stripe.lock.lock();
        try {
            try {
                checkOpen();
                checkLive(region, address);
                toUnmap = freeToStripe(region, address);
            } finally {
                region.unclaim(address);
            }
        } finally {
            stripe.lock.unlock();
        }
        if (toUnmap != null) {
            unmap(toUnmap);
        }
    }

    /**
     * Resizes the block at {@code address} to {@code newByteSize} bytes, in place when it can, else by moving it.
     * Keeps its content up to the smaller size and its alignment; bytes past the old size read as zero.
     *
     * @return the block's address, new or not
     * @throws IllegalArgumentException as {@link #free}
     */
    public long reallocate(long address, long newByteSize) {
        checkOpen();
        if (small != null) {
            Page page = small.pageOf(address);
            if (page != null) {
                return reallocateSmall(page, address, newByteSize);
            }
        }
        Region region = table.find(address);
        if (region == null) {
            return reallocateLarge(address, newByteSize);
        }
        claim(region, address);
        if (hardening != null) {
            checkBlock(region, address, "reallocate");
        }
        boolean claimed = true;
        try {
            long moved = reallocateClaimed(region, address, newByteSize);
            // A moved block's claim ended when it was freed, or went with it into the quarantine.
            claimed = moved == address;
            return moved;
        } catch (DamagedBlockException damaged) {
            throw reported("reallocate", damaged);
        } finally {
            if (claimed) {
                region.unclaim(address);
            }
        }
    }

    /**
     * {@link #reallocate} of a claimed block in a region. When it moves the block, it frees the old one and ends
     * its claim under the stripe's lock; else the caller ends the claim.
     */
    private long reallocateClaimed(Region region, long address, long newByteSize) {
        long newBlockSize = blockSizeFor(newByteSize);
        Stripe stripe = region.stripe;
        long alignment;
        stripe.lock.lock();
        try {
            checkOpen();
            checkLive(region, address);
            // Checked again in a hardened heap: a user's write may have come since, and this lock was not held.
            long header = hardening != null ? hardening.checkInUse(region, address)
                    : Block.header(Block.ofPayload(address));
            alignment = Block.alignmentOfHeader(header);
            if (!isLarge(newBlockSize, Block.GRANULE)
                    && stripe.resizeInPlace(region, address, header, newByteSize, newBlockSize)) {
                if (hardening != null) {
                    hardening.writeCanary(address, newByteSize);
                }
                return address;
            }
        } finally {
            stripe.lock.unlock();
        }
        long moved = allocate(newByteSize, alignment, true);
        Region toUnmap = null;
        boolean live;
        DamagedBlockException damaged = null;
        long oldByteSize = 0;
        stripe.lock.lock();
        try {
            // Checked again: the old block is read only while this lock keeps its region mapped.
            live = !closed && !region.released && region.isLive(address);
            if (live) {
                long header = Block.header(Block.ofPayload(address));
                if (hardening != null) { // and its header, once more
                    try {
                        header = hardening.checkInUse(region, address);
                    } catch (DamagedBlockException e) {
                        damaged = e;
                    }
                }
                if (damaged == null) {
                    oldByteSize = Block.byteSizeOfHeader(header);
                    copy(address, moved, Math.min(oldByteSize, newByteSize));
                    if (hardening == null) { // else it stays claimed, for the quarantine
                        toUnmap = freeToStripe(region, address);
                        region.unclaim(address);
                    }
                }
            }
        } finally {
            stripe.lock.unlock();
        }
        if (!live || damaged != null) { // the new block goes back outside the lock: a free may take others
            checkOpen();
            free(moved);
            if (damaged != null) {
                throw damaged;
            }
            throw notLive(address);
        }
        // The block has moved: the caller must get its new address, so a refused unmap is only logged.
        if (hardening != null) {
            unmapOrWarn(quarantine(region, address, oldByteSize));
        }
        if (toUnmap != null) {
            unmapOrWarn(List.of(toUnmap));
        }
        return moved;
    }

    /**
     * {@link #reallocate} of a small block: in place while the new size keeps its size class, else moved to a
     * block found as {@link #allocate} finds one, at the old block's alignment.
     */
    private long reallocateSmall(Page page, long address, long newByteSize) {
        long alignment = small.alignmentOf(page, address); // checks that the block is live
        int sizeClass = newByteSize <= SizeClasses.MAX_SIZE ? SizeClasses.of(newByteSize, alignment) : -1;
        if (small.resizeInPlace(page, address, newByteSize, sizeClass)) {
            return address;
        }
        long moved = allocate(newByteSize, alignment, true);
        try {
            copyIntoLiveBlock(address, moved, Math.min(small.byteSize(page, address), newByteSize));
        } catch (IllegalArgumentException | IllegalStateException e) { // freed, or closed, meanwhile
            if (!closed) {
                free(moved);
            }
            throw e;
        }
        try {
            small.free(page, address);
        } catch (IllegalStateException refused) {
            // The old block is freed; only the unmap of the region it emptied was refused: the mapping stays owed,
            // and the caller must get the moved block.
            Mappings.warn(refused);
        } catch (IllegalArgumentException raced) { // another thread freed it after the copy: the new block goes back
            free(moved);
            throw raced;
        }
        return moved;
    }

    private long reallocateLarge(long address, long newByteSize) {
        // Claimed while it is resized or copied, so that no other thread unmaps it under us (close leaves it to us);
        // a free of it meanwhile is refused as the free of a block that is not live.
        LargeBlock block = large.take(address, LargeBlock.CLAIMED);
        if (block == null) {
            checkOpen(); // close took it
            throw notLive(address);
        }
        if (hardening != null) {
            try {
                hardening.checkCanary(address, block.byteSize());
            } catch (IllegalStateException damaged) {
                putBackAfter(damaged, block);
                FaultDetectedEvent.detected(name, "reallocate", address, damaged);
                throw damaged;
            }
        }
        long needed = largeMappingSize(newByteSize);
        boolean fits = newByteSize <= block.mappingSize() - tail - guard && needed > 0
                && isLarge(blockSizeFor(newByteSize), block.alignment())
                && block.mappingSize() / 2 < needed;
        if (fits) {
            Block.zero(address + block.byteSize(), Math.min(newByteSize, block.dirtyEnd()) - block.byteSize());
            if (hardening != null) {
                hardening.writeCanary(address, newByteSize);
            }
            block.resize(newByteSize, tail);
            putBack(block);
            return address;
        }
        long moved;
        try {
            moved = allocate(newByteSize, block.alignment(), true);
        } catch (OutOfMemoryError | IllegalStateException e) {
            putBackAfter(e, block);
            throw e;
        }
        try {
            copyIntoLiveBlock(address, moved, Math.min(block.byteSize(), newByteSize));
        } catch (IllegalStateException closedMeanwhile) {
            putBackAfter(closedMeanwhile, block);
            throw closedMeanwhile;
        }
        large.countFreed();
        try {
            retire(block);
        } catch (IllegalStateException refused) { // the block has moved: the caller must get its new address
            Mappings.warn(refused);
        }
        return moved;
    }

    /** Puts back a claimed block after {@code failure}, which stays the exception thrown. */
    private void putBackAfter(Throwable failure, LargeBlock block) {
        try {
            putBack(block);
        } catch (IllegalStateException closed) {
            failure.addSuppressed(closed);
        }
    }

    /**
     * Copies into {@code to}, a block just allocated, holding what keeps {@link #close} from unmapping it: its
     * stripe's lock, or, for a large block, its claim.
     *
     * @throws IllegalStateException when the heap closed meanwhile
     */
    private void copyIntoLiveBlock(long from, long to, long byteSize) {
        if (small != null && (small.pageOf(to) != null || small.pageOf(from) != null)) {
            // Through the users' segment: the close of its scope waits out this copy before the pages are unmapped.
            if (small.pageOf(to) == null) {
                copyIntoStripeOrLarge(from, to, byteSize, small::copy);
            } else {
                small.copy(from, to, byteSize);
            }
            return;
        }
        copyIntoStripeOrLarge(from, to, byteSize, Heap::copy);
    }

    /** Copies {@code byteSize} bytes from one address to another. */
    @FunctionalInterface
    private interface Copier {
        void copy(long from, long to, long byteSize);
    }

    /** The copy of {@link #copyIntoLiveBlock} into a block of a stripe or a large block, kept from an unmap. */
    private void copyIntoStripeOrLarge(long from, long to, long byteSize, Copier copier) {
        Region region = table.find(to);
        if (region != null) {
            region.stripe.lock.lock();
            try {
                checkOpen();
                copier.copy(from, to, byteSize);
            } finally {
                region.stripe.lock.unlock();
            }
            return;
        }
        LargeBlock target = large.take(to, LargeBlock.CLAIMED);
        if (target == null) {
            throw closedException(); // only close takes a block we have not given out yet
        }
        try {
            copier.copy(from, to, byteSize);
        } finally {
            putBack(target);
        }
    }

    /** Puts a claimed large block back, or unmaps it when the heap closed meanwhile (close did not see it). */
    private void putBack(LargeBlock block) {
        block.setState(LargeBlock.LIVE);
        if (closed) {
            throw closedMeanwhile(block);
        }
    }

    /**
     * Unmaps every empty region, cached or not, the spare mappings and the owed ones, and purges the whole pages
     * inside free blocks. When the OS refuses an unmap or a purge, it gives back all the rest, then throws.
     *
     * @return the bytes given back to the OS
     * @throws IllegalStateException when the OS refused an unmap (the mapping stays counted and owed, see
     *                               {@link OwedMappings}) or a purge (the block stays as it was)
     */
    public long trim() {
        checkOpen();
        List<Region> emptied = new ArrayList<>(releaseQuarantine());
        emptied.addAll(detachEmptyRegions());
        Failures failures = new Failures();
        long given = 0;
        try {
            given += unmapPageRegions(small == null ? List.of() : small.trim());
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        try {
            given += mappings.retryOwed();
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        try {
            given += unmapSpares(false);
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        try {
            given += unmapRegions(emptied);
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        for (Stripe stripe : stripes) {
            stripe.lock.lock();
            try {
                checkOpen(); // close empties the stripes: their free lists may name unmapped memory no more
                given += purgeFreeBlocks(stripe, failures);
            } finally {
                stripe.lock.unlock();
            }
        }
        failures.throwIfAny();
        return given;
    }

    /**
     * Gives the OS the pages of every free block of {@code stripe} not purged yet; a block whose purge the OS
     * refuses is not marked purged, and the next trim tries it again. Caller holds the lock.
     */
    private long purgeFreeBlocks(Stripe stripe, Failures failures) {
        long purged = 0;
        for (int bin = 0; bin < FreeList.BIN_COUNT; bin++) {
            for (long block = stripe.bins.head(bin); block != 0; ) {
                long next;
                try {
                    next = stripe.bins.next(block); // a hardened list checks the link
                } catch (DamagedBlockException damaged) { // the rest of this bin cannot be reached safely
                    failures.add(reported("trim", damaged));
                    break;
                }
                try {
                    purged += purgeFreeBlock(block);
                } catch (DamagedBlockException damaged) {
                    failures.add(reported("trim", damaged));
                } catch (IllegalStateException refused) {
                    failures.add(refused);
                }
                block = next;
            }
        }
        return purged;
    }

    /**
     * Gives the OS the whole pages of a free block not purged yet, and marks it purged; its header, links and footer
     * stay. Caller holds the lock.
     *
     * @return the bytes purged
     * @throws IllegalStateException when the OS refuses: the block stays as it was
     */
    private long purgeFreeBlock(long block) {
        // Its size says what to give the OS: a hardened heap checks it first.
        long size = hardening != null ? Hardening.checkFree(table.find(block), block) : Block.size(block);
        long page = os.pageSize();
        long from = (block + Block.HEADER + 16 + page - 1) & -page;
        long to = (block + size - Block.HEADER) & -page;
        if (to <= from || Block.isPurged(block)) {
            return 0;
        }
        os.purge(from, to - from);
        Block.markPurged(block);
        return to - from;
    }

    /**
     * Frees a block to its stripe, whose lock the caller holds; returns the region, when that emptied it past the
     * cache of empty regions, for the caller to unmap.
     *
     * <p>Of a stripe's empty regions kept, only the one that emptied last stays resident: when a region empties and
     * is kept, the stripe's other empty regions are purged at once, under the lock (an empty region's pages are all
     * free), unless they are already. The one left resident serves a thread that empties and refills one region in a
     * loop without a system call (per stripe, so that two such threads do not purge each other's: that made a
     * 64 KiB allocate + free on two threads 10 times slower); the others held their pages until a trim, which left
     * 1.5-3% of the footprint workload's peak in RSS after it freed everything.
     */
    private Region freeToStripe(Region region, long payload) {
        Stripe stripe = region.stripe;
        Region toUnmap = stripe.free(region, payload);
        if (toUnmap == null && region.liveBlocks == 0) {
            for (Region other : stripe.regions) {
                if (other != region && other.liveBlocks == 0) {
                    try {
                        purgeFreeBlock(other.firstBlock());
                    } catch (DamagedBlockException damaged) { // the free is done: the damaged block is not purged
                        LOG.log(System.Logger.Level.WARNING, "MemAlloc '" + name + "': "
                                + reported("purge", damaged).getMessage());
                    } catch (IllegalStateException refused) { // the free is done: only the pages stay
                        Mappings.warn(refused);
                    }
                }
            }
        }
        return toUnmap;
    }

    private List<Region> detachEmptyRegions() {
        return detachFromEveryStripe(Stripe::detachEmptyRegions);
    }

    /** What {@code detach} takes out of each stripe, each under its lock, for the caller to unmap. */
    private List<Region> detachFromEveryStripe(Function<Stripe, List<Region>> detach) {
        List<Region> detached = new ArrayList<>();
        for (Stripe stripe : stripes) {
            stripe.lock.lock();
            try {
                detached.addAll(detach.apply(stripe));
            } finally {
                stripe.lock.unlock();
            }
        }
        return detached;
    }

    /**
     * Counters summed over the stripes, each read under its lock, the large blocks and the small-block engine's
     * pages, read without a lock but not while the reaper gives back an ended thread's pages: exact when no other
     * thread allocates or frees meanwhile.
     */
    public HeapStats stats() {
        return small == null ? statsNow() : small.excludingReaper(this::statsNow);
    }

    private HeapStats statsNow() {
        long allocated = large.allocatedBytes();
        long allocations = large.allocations();
        long frees = large.frees();
        for (Stripe stripe : stripes) {
            stripe.lock.lock();
            try {
                allocated += stripe.allocatedBytes;
                allocations += stripe.allocations;
                frees += stripe.frees;
            } finally {
                stripe.lock.unlock();
            }
        }
        int regions = table.size();
        int empty = emptyRegions.count();
        if (small != null) {
            long[] totals = small.totals();
            allocations += totals[0];
            frees += totals[1];
            allocated += totals[2];
            regions += small.regions().count();
            empty += small.regions().countWithOnlyEmptyPages();
        }
        if (quarantine != null) { // freed, for the user
            allocated -= quarantine.bytes();
            frees += quarantine.count();
        }
        return new HeapStats(mappings.mappedBytes(), allocated, regions, empty, large.count(), allocations, frees,
                mappings.mapCount(), mappings.unmapCount());
    }

    /** An ASCII picture of the regions and their blocks; see {@link HeapMapWriter}. */
    public String map() {
        return new HeapMapWriter(this).write();
    }

    /** Checks every invariant of the heap; see {@link HeapVerifier}. */
    public void verify() {
        checkOpen();
        HeapVerifier verifier = new HeapVerifier(this);
        if (small == null) {
            verifier.verify();
        } else {
            small.excludingReaper(() -> {
                verifier.verify();
                return null;
            });
        }
    }

    /**
     * Unmaps everything, owed mappings included, even when the OS refuses one. Any later call throws
     * IllegalStateException.
     *
     * @return false when the heap was closed already
     * @throws IllegalStateException when, closed, it still holds a mapping the OS refused to take back (counted in
     *                               the statistics still)
     */
    public boolean close() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            return false;
        }
        Failures failures = new Failures();
        if (small != null) {
            small.close();
            try {
                unmapPageRegions(small.regions().detachAll());
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        try {
            mappings.retryOwed();
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        try {
            unmapSpares(true);
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        try {
            unmapRegions(detachFromEveryStripe(Stripe::detachAll));
        } catch (IllegalStateException refused) {
            failures.add(refused);
        }
        for (LargeBlock block : large.removeAllLive()) {
            try {
                mappings.unmap(block.address(), block.mappingSize(), NO_STRIPE);
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        if (mappings.owed().count() > 0) {
            throw new IllegalStateException("MemAlloc '" + name + "' is closed, but the OS did not take back "
                    + mappings.owed().count() + " of its mappings (" + Sizes.format(mappings.owed().bytes())
                    + "): they stay mapped, and"
                    + " stats() counts them, until the process ends", failures.first());
        }
        return true;
    }

    /**
     * Unmaps each region, even when one is refused; then throws the first refusal, else returns the bytes.
     *
     * @throws IllegalStateException when the OS refused an unmap: see {@link Mappings#unmap(long, long, int)}
     */
    private long unmapRegions(List<Region> regions) {
        Failures failures = new Failures();
        long given = 0;
        for (Region region : regions) {
            try {
                unmap(region);
                given += region.size;
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        failures.throwIfAny();
        return given;
    }

    /** {@link #unmapRegions} for regions of small-block pages. */
    private long unmapPageRegions(List<PageRegion> regions) {
        Failures failures = new Failures();
        long given = 0;
        for (PageRegion region : regions) {
            try {
                mappings.unmap(region.base, region.size, PAGES);
                given += region.size;
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        failures.throwIfAny();
        return given;
    }

    /** Unmaps a region of small-block pages; see {@link Mappings#unmap(long, long, int)}. */
    private void unmap(PageRegion region) {
        mappings.unmap(region.base, region.size, PAGES);
    }

    /** Unmaps a region of small-block pages for a call that must not fail for it: a refusal is logged, and the mapping owed. */
    private void unmapOrWarn(PageRegion region) {
        unmapOrWarn(region.base, region.size);
    }

    private void unmapOrWarn(long base, long byteSize) {
        try {
            mappings.unmap(base, byteSize, PAGES);
        } catch (IllegalStateException refused) {
            Mappings.warn(refused);
        }
    }

    /**
     * {@link #unmapRegions}, for a call that must not fail for it (an allocate or a reallocate that has its block
     * ready): a refusal is logged, and the mapping stays owed.
     */
    private void unmapOrWarn(List<Region> regions) {
        try {
            unmapRegions(regions);
        } catch (IllegalStateException refused) {
            Mappings.warn(refused);
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /** Whether blocks carry canaries and freed ones are poisoned and quarantined. */
    public boolean isHardened() {
        return hardening != null;
    }

    /** The canary writer and checker when the heap is hardened, else null. */
    Hardening hardening() {
        return hardening;
    }

    /** Bytes every block holds past its request: {@link Hardening#CANARY_BYTES} when hardened, else 0. */
    long tailBytes() {
        return tail;
    }

    /** What events and the management bean call this heap. */
    public String name() {
        return name;
    }

    public long regionSize() {
        return regionSize;
    }

    public int stripeCount() {
        return stripes.length;
    }

    /** A new region for {@code stripe}, in the table but not yet in the stripe. */
    private Region mapRegion(Stripe stripe, long request) {
        long base = mappings.map(regionSize, regionSize, request, stripe.index);
        try {
            Region region = new Region(base, regionSize, stripe);
            region.initialize();
            table.add(region);
            return region;
        } catch (RuntimeException | Error e) { // a Java OutOfMemoryError for the region's bitmap, say
            try {
                mappings.unmap(base, regionSize, stripe.index);
            } catch (IllegalStateException refused) {
                e.addSuppressed(refused);
            }
            throw e;
        }
    }

    /**
     * Near the cap (after the owed mappings, {@link Mappings#map}): unmaps the cached empty regions, the calling
     * thread's empty pages and the spares; adds the refusals to {@code refusals}.
     */
    private void giveBackForRoom(Failures refusals) {
        try {
            unmapRegions(detachEmptyRegions());
        } catch (IllegalStateException refused) {
            refusals.add(refused);
        }
        try {
            unmapPageRegions(small == null ? List.of() : small.trim()); // the caller's empty pages too
        } catch (IllegalStateException refused) {
            refusals.add(refused);
        }
        try {
            unmapSpares(false);
        } catch (IllegalStateException refused) {
            refusals.add(refused);
        }
    }

    private void unmap(Region region) {
        mappings.unmap(region.base, region.size, region.stripe.index);
    }

    int homeStripe() {
        long id = Thread.currentThread().threadId();
        return (int) ((id * 0x9E3779B97F4A7C15L) >>> 32) & (stripes.length - 1);
    }

    /** The small-block engine, or null in a hardened heap. */
    SmallBlocks small() {
        return small;
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    static IllegalStateException closedException() {
        return new IllegalStateException("this MemAlloc is closed");
    }

    private static void checkLive(Region region, long address) {
        if (region.released || !region.isLive(address)) {
            throw notLive(address);
        }
    }

    static IllegalArgumentException notLive(long address) {
        return new IllegalArgumentException("0x" + Long.toHexString(address)
                + " is not the start of a live block of this allocator: it was freed already, is inside a block,"
                + " or was never allocated here");
    }

    private static void copy(long from, long to, long byteSize) {
        MemorySegment.copy(AddressSpace.all(), from, AddressSpace.all(), to, byteSize);
    }

    // For HeapVerifier and HeapMapWriter, which read a heap's parts under its locks.

    Stripe[] stripes() {
        return stripes;
    }

    RegionTable<Region> table() {
        return table;
    }

    EmptyRegions emptyRegions() {
        return emptyRegions;
    }

    LargeBlocks large() {
        return large;
    }

    SpareMappings spares() {
        return spares;
    }

    OwedMappings owed() {
        return mappings.owed();
    }

    long mappedBytes() {
        return mappings.mappedBytes();
    }
}
