package io.memalloc;

import io.memalloc.internal.arena.ArenaAllocator;
import io.memalloc.internal.arena.ChunkPool;
import io.memalloc.internal.event.FaultDetectedEvent;
import io.memalloc.internal.event.LeakDetectedEvent;
import io.memalloc.internal.event.TrimEvent;
import io.memalloc.internal.heap.BlockSites;
import io.memalloc.internal.heap.Heap;
import io.memalloc.internal.heap.HeapConfig;
import io.memalloc.internal.heap.HeapStats;
import io.memalloc.internal.heap.Sites;
import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import javax.management.ObjectName;

/**
 * A thread-safe native-memory allocator: allocate, free and reallocate, served from regions MemAlloc maps from the
 * operating system itself, the Java counterpart of a Rust {@code GlobalAlloc}.
 *
 * <p>Memory lasts until it is {@linkplain #free freed}, as with {@code malloc}: the segments this allocator returns
 * have no scope that ends when the memory goes. {@link #global()} is the process-wide allocator; its segments have
 * the global scope. An allocator made with {@link #builder()} owns its mappings and gives them all back on
 * {@link #close()}; its segments share one scope that closes with it, so that a segment used after that throws
 * {@link IllegalStateException} instead of touching unmapped memory.
 *
 * {@snippet lang = java file = "JavadocSnippets.java" region = "allocator"}
 *
 * <h2>How it works</h2>
 * Regions (4 MiB by default, aligned to their size) are carved into blocks with boundary tags; free blocks sit in
 * segregated free lists with bitmaps (TLSF), one set per lock stripe. A thread allocates from its own stripe, or any
 * other it can lock without waiting; a block goes back to the stripe of its region. Requests above 1 MiB (or half a
 * region, when that is less) get a mapping of their own, unmapped when freed ({@link #global()} keeps a few as spares
 * for reuse). A few empty regions are kept for reuse; {@link #trim()} gives back the rest of what is free. No lock is
 * held across a system call, except a purge of free pages.
 *
 * <p>{@link #global()} adds two things an allocator that may close cannot have: each platform thread keeps a small
 * stock of free blocks up to 1 KiB, taken and given back without a lock (a double free is still refused, from any
 * thread), and up to four freed large mappings are kept for the next large request that need not be zeroed.
 * {@link #trim()} gives those back too (a live thread's stock at its next call).
 *
 * <h2>Errors</h2>
 * As {@link Arena#allocate}: a negative size or an alignment that is not a power of two is an
 * {@link IllegalArgumentException}; a size that cannot be mapped is an {@link OutOfMemoryError}, as is going over
 * {@link Builder#maxMappedBytes}. {@link #free} and {@link #reallocate} refuse with an
 * {@link IllegalArgumentException}, without reading any memory, a segment that is not the start of a live block of
 * this allocator: a heap segment, one from another allocator or arena, an interior slice, or a block freed already.
 * The allocator keeps working after each of these.
 *
 * <p>When the operating system fails, the allocator stays consistent: a mapping it refuses, or returns at an address
 * MemAlloc cannot use, is an {@link OutOfMemoryError} and changes nothing. A mapping it refuses to take back stays
 * counted in {@link AllocatorStats#mappedBytes()} and is tried again by the next {@link #trim()} or
 * {@link #close()}; {@link #free} then throws {@link IllegalStateException} once the block is freed, and trim and
 * close once they have given back the rest, if it is still refused; {@link #allocate(long, long)} and
 * {@link #reallocate}, which must return their block, log it as a warning.
 *
 * <p>MemAlloc calls {@code mmap} or {@code VirtualAlloc} through the FFM API; run with
 * {@code --enable-native-access=io.memalloc} (or {@code ALL-UNNAMED} on the class path) to keep the JDK from warning.
 */
public final class MemAlloc implements SegmentAllocator, AutoCloseable {
    private final Heap heap;
    /** Owns the scope of this allocator's segments; null for the global allocator. */
    private final Arena arena;
    /** The address space in that scope: every segment handed out is a slice of it. */
    private final MemorySegment memory;
    /** Zeroed first chunks for arenas. */
    private final ChunkPool chunkPool;
    /** Arenas open on this allocator; -1 once it is closed. */
    private final AtomicInteger openArenas = new AtomicInteger();
    /** What an arena runs once it has given its memory back: one object for all of them. */
    private final Runnable arenaReleased = this::arenaClosed;
    /** Where this allocator's management bean is registered, or null when it is not. */
    private final ObjectName beanName;
    /** Whether arenas record where they are created, for the report of one that is never closed. */
    private final boolean recordSites;
    /** Where the live blocks were allocated, for the leak report at close; null unless recorded. */
    private final BlockSites blockSites;

    @SuppressWarnings("MustBeClosedChecker") // the arena lives as long as this allocator: close() closes it
    private MemAlloc(OsMemory os, HeapConfig config, boolean global, boolean registerBean, boolean recordSites) {
        this.recordSites = recordSites;
        this.arena = global ? null : Arena.ofShared();
        this.memory = global ? AddressSpace.all() : AddressSpace.all(arena);
        this.heap = new Heap(os, config, memory); // zeroes through memory: see Heap
        this.blockSites = recordSites && !global ? new BlockSites(heap) : null; // the global one never closes
        this.chunkPool = new ChunkPool(heap, FIRST_CHUNK_SIZE, heap.isHardened() ? 0 : 2 * heap.stripeCount());
        ObjectName registered = null;
        if (registerBean) {
            try {
                registered = ManagementBean.register(this, !global);
            } catch (RuntimeException e) {
                arena.close(); // only a private allocator's registration throws
                throw e;
            }
        }
        this.beanName = registered;
    }

    private static final System.Logger LOG = System.getLogger(MemAlloc.class.getName());

    /**
     * The size of a confined or shared arena's first chunk: the chunks the pool keeps. An automatic arena's first chunk
     * is smaller and the heap's, not the pool's (see {@code ArenaAllocator.AUTO_FIRST_CHUNK}).
     */
    private static final long FIRST_CHUNK_SIZE = 16 * 1024;

    /**
     * The process-wide allocator, created on first use. Its segments have the global scope; it never closes.
     *
     * <p>It is shaped by the {@code memalloc.*} system properties, read once, when it is made. A size is a count of
     * bytes with an optional suffix k, m, g or t (powers of 1024):
     * <table class="striped">
     * <caption>System properties of the global allocator</caption>
     * <thead><tr><th scope="col">property</th><th scope="col">value</th><th scope="col">default</th></tr></thead>
     * <tbody>
     * <tr><th scope="row">{@code memalloc.regionSize}</th><td>a power of two, 64k to 256m</td><td>4m</td></tr>
     * <tr><th scope="row">{@code memalloc.stripes}</th><td>a power of two, 1 to 1024</td>
     *     <td>twice the processors, rounded up</td></tr>
     * <tr><th scope="row">{@code memalloc.maxMappedBytes}</th><td>a size above 0</td><td>unlimited</td></tr>
     * <tr><th scope="row">{@code memalloc.cachedRegions}</th><td>empty regions kept mapped</td><td>2</td></tr>
     * <tr><th scope="row">{@code memalloc.spareMappings}</th><td>freed large mappings kept</td><td>4</td></tr>
     * <tr><th scope="row">{@code memalloc.hardened}</th><td>true or false: see {@link Builder#hardened}; no
     *     spare mappings then</td><td>false</td></tr>
     * <tr><th scope="row">{@code memalloc.managementBean}</th><td>true or false: register
     *     {@code io.memalloc:type=MemAlloc,name=global} ({@link MemAllocMXBean})</td><td>true</td></tr>
     * <tr><th scope="row">{@code memalloc.guardPages}</th><td>true or false: a guard page after each large block
     *     (see {@link Builder#guardPages})</td><td>false</td></tr>
     * <tr><th scope="row">{@code memalloc.leakSites}</th><td>true or false: record where each arena is created, for
     *     the report of one that becomes unreachable unclosed (see {@link Builder#leakSites})</td><td>false</td></tr>
     * </tbody>
     * </table>
     *
     * <p>A {@code memalloc.*} property that is none of these (a typo, such as {@code memalloc.regionsize}) changes
     * nothing, and is a WARNING through {@link System.Logger} naming the nearest real one.
     *
     * @return the process-wide allocator
     * @throws UnsupportedOperationException when MemAlloc cannot run here (an OS it does not know, or no native
     *                                       access), with the reason
     * @throws IllegalArgumentException      when a {@code memalloc.*} system property has a bad value, naming it
     */
    public static MemAlloc global() {
        if (Global.INSTANCE == null) {
            if (Global.FAILURE instanceof IllegalArgumentException badProperty) {
                throw new IllegalArgumentException(badProperty.getMessage(), badProperty);
            }
            throw new UnsupportedOperationException(Global.FAILURE.getMessage(), Global.FAILURE);
        }
        return Global.INSTANCE;
    }

    /**
     * Holds the global allocator, made on first use only; or why it could not be made, so that every call says so
     * rather than a bare {@code NoClassDefFoundError} after the first.
     */
    private static final class Global {
        static final MemAlloc INSTANCE;
        static final RuntimeException FAILURE;

        static {
            MemAlloc instance = null;
            RuntimeException failure = null;
            try {
                GlobalProperties properties = GlobalProperties.read(System::getProperty);
                for (String unknown : GlobalProperties.unknown(System.getProperties().stringPropertyNames())) {
                    LOG.log(System.Logger.Level.WARNING, unknown);
                }
                instance = new MemAlloc(OsMemory.system(), properties.heapConfig(), true,
                        properties.managementBean(), properties.leakSites());
            } catch (RuntimeException e) {
                failure = e;
            }
            INSTANCE = instance;
            FAILURE = failure;
        }

        private Global() {}
    }

    /** {@return a builder for an allocator of its own, which {@link #close()} unmaps} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Allocates {@code byteSize} bytes aligned to {@code byteAlignment}, zeroed.
     *
     * <p>A fresh mapping is zero already, so only recycled bytes are written. A size of 0 gives a distinct address,
     * which must be freed like any other.
     *
     * @throws IllegalArgumentException if {@code byteSize < 0} or {@code byteAlignment} is not a power of two
     * @throws OutOfMemoryError         if the memory cannot be mapped, or {@link Builder#maxMappedBytes} would be
     *                                  exceeded
     * @throws IllegalStateException    if this allocator is closed
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        checkAllocation(byteSize, byteAlignment);
        return memory.asSlice(allocated(heap.allocate(byteSize, byteAlignment, true)), byteSize);
    }

    /** Records where the block at {@code address} was allocated, when sites are recorded; returns the address. */
    private long allocated(long address) {
        return blockSites == null ? address : blockSites.allocated(address);
    }

    /**
     * As {@link #allocate(long, long)}, without zeroing: the content is whatever the memory last held.
     *
     * @param byteSize      the size in bytes, 0 or more
     * @param byteAlignment the alignment in bytes, a power of two
     * @return a segment of {@code byteSize} bytes at an address that is a multiple of {@code byteAlignment}
     * @throws IllegalArgumentException if {@code byteSize < 0} or {@code byteAlignment} is not a power of two
     * @throws OutOfMemoryError         as {@link #allocate(long, long)}
     * @throws IllegalStateException    if this allocator is closed
     */
    public MemorySegment allocateUninitialized(long byteSize, long byteAlignment) {
        checkAllocation(byteSize, byteAlignment);
        return memory.asSlice(allocated(heap.allocate(byteSize, byteAlignment, false)), byteSize);
    }

    /**
     * Frees the block that starts at {@code segment}'s address. {@link MemorySegment#NULL} (any native segment at
     * address 0) is ignored, as {@code free(NULL)} is in C.
     *
     * <p>The segment stays usable as a Java object, but the memory is no longer the caller's: it may be handed out
     * again at once.
     *
     * @param segment a segment this allocator returned, or {@link MemorySegment#NULL}
     * @throws IllegalArgumentException if the segment is not the start of a live block of this allocator
     * @throws IllegalStateException    if this allocator is closed; or, once the block is freed, if the OS refused
     *                                  to take back a mapping the free emptied (it stays counted in
     *                                  {@link AllocatorStats#mappedBytes()}, and {@link #trim()} tries again)
     */
    public void free(MemorySegment segment) {
        try {
            long address = addressOf(segment);
            if (address != 0) {
                freeBlock(address);
            }
        } catch (IllegalArgumentException fault) {
            throw detected(fault, "free", segment);
        }
    }

    private void freeBlock(long address) {
        if (blockSites == null) {
            heap.free(address);
        } else {
            blockSites.free(address);
        }
    }

    private long reallocateBlock(long address, long newByteSize) {
        return blockSites == null ? heap.reallocate(address, newByteSize) : blockSites.reallocate(address, newByteSize);
    }

    /** Reports a segment refused by free or reallocate, then gives back the exception to throw. */
    private IllegalArgumentException detected(IllegalArgumentException fault, String operation,
                                              MemorySegment segment) {
        FaultDetectedEvent.detected(heap.name(), operation, segment.address(), fault);
        return fault;
    }

    /**
     * The address of a segment this allocator handed out, 0 for NULL.
     *
     * @throws IllegalArgumentException for a heap segment, or one in another scope: another allocator's, or a
     *                                  {@link MemArena}'s, whose memory belongs to its arena until it closes
     */
    @SuppressWarnings("ReferenceEquality") // identity first, then equals: see below
    private long addressOf(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("a heap segment was not allocated by MemAlloc: " + segment);
        }
        long address = segment.address();
        // Identity first: the segments this allocator hands out share its scope object, and equals costs the
        // inlined code of free a type check.
        if (address != 0 && segment.scope() != memory.scope() && !segment.scope().equals(memory.scope())) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " was not allocated by this"
                    + " MemAlloc (its scope is another allocator's or an arena's): " + segment);
        }
        return address;
    }

    /**
     * Resizes the block that starts at {@code segment}'s address to {@code newByteSize} bytes: in place when it
     * can, else by moving it. The content is kept up to the smaller size, the alignment it was allocated with is
     * kept, and bytes past the old size read as zero. On {@link MemorySegment#NULL} it allocates. After it returns,
     * only the returned segment may be used.
     *
     * @param segment     a segment this allocator returned, or {@link MemorySegment#NULL}
     * @param newByteSize the new size in bytes, 0 or more
     * @return a segment of {@code newByteSize} bytes
     * @throws IllegalArgumentException as {@link #free}, or if {@code newByteSize < 0}
     * @throws OutOfMemoryError         as {@link #allocate(long, long)}; the block is then left as it was
     */
    public MemorySegment reallocate(MemorySegment segment, long newByteSize) {
        checkSize(newByteSize);
        long moved;
        try {
            long address = addressOf(segment);
            if (address == 0) {
                return allocate(newByteSize, 1);
            }
            moved = reallocateBlock(address, newByteSize);
        } catch (IllegalArgumentException fault) {
            throw detected(fault, "reallocate", segment);
        }
        return memory.asSlice(moved, newByteSize);
    }

    /**
     * A new confined arena drawing on this allocator: only the calling thread may use and close it.
     *
     * @return the arena, open
     * @throws IllegalStateException if this allocator is closed
     */
    public MemArena newConfinedArena() {
        return openArena(ArenaAllocator.Kind.CONFINED, false);
    }

    /**
     * A new shared arena drawing on this allocator: any thread may allocate in it, use its memory and close it.
     *
     * @return the arena, open
     * @throws IllegalStateException if this allocator is closed
     */
    public MemArena newSharedArena() {
        return openArena(ArenaAllocator.Kind.SHARED, false);
    }

    /**
     * A new automatic arena drawing on this allocator: its memory goes back once it and its segments are
     * unreachable. Until then it counts as open, and this allocator cannot be closed.
     *
     * @return the arena
     * @throws IllegalStateException if this allocator is closed
     */
    public MemArena newAutoArena() {
        return openArena(ArenaAllocator.Kind.AUTO, true);
    }

    private MemArena openArena(ArenaAllocator.Kind kind, boolean automatic) {
        arenaOpening();
        try {
            Throwable site = recordSites && !automatic ? Sites.here("the arena was created here") : null;
            return new MemArena(this, ArenaAllocator.open(kind, chunkPool, maxChunkSize(), arenaReleased, site),
                    automatic);
        } catch (RuntimeException | Error e) {
            arenaClosed();
            throw e;
        }
    }

    /**
     * The largest chunk an arena takes: a quarter of a region. Below 4 MiB regions that keeps every chunk in a region;
     * from 4 MiB up the largest chunks (1 MiB and more, with their header) are above the large threshold, and get a
     * mapping of their own.
     */
    private long maxChunkSize() {
        return heap.regionSize() / 4;
    }

    /** Counts an arena opening on a private allocator (the global one never closes, so it need not count). */
    private void arenaOpening() {
        if (arena == null) {
            return;
        }
        for (int open = openArenas.get(); ; open = openArenas.get()) {
            if (open < 0) {
                throw new IllegalStateException("this MemAlloc is closed");
            }
            if (openArenas.compareAndSet(open, open + 1)) {
                return;
            }
        }
    }

    private void arenaClosed() {
        if (arena != null) {
            openArenas.decrementAndGet();
        }
    }

    /**
     * {@return the allocator's counters now} Cheap enough to call often; consistent when no other thread allocates.
     */
    public AllocatorStats stats() {
        HeapStats s = heap.stats();
        int pooled = chunkPool.pooledCount(); // live blocks of the heap's, but no one's: not counted as allocated
        long pooledBytes = pooled * chunkPool.chunkSize();
        return new AllocatorStats(s.mappedBytes(), Math.max(0, s.allocatedBytes() - pooledBytes), s.regionCount(),
                s.emptyRegionCount(), s.largeBlockCount(), s.allocationCount(), s.freeCount(), s.mapCount(),
                s.unmapCount(), pooledBytes, pooled, chunkPool.leakedArenaCount());
    }

    /**
     * Gives back to the OS what is free: unmaps every empty region, cached ones included, and the spare large
     * mappings, and purges the whole pages inside free blocks (they stay mapped, and cost no memory until used
     * again). The zeroed first chunks kept for arenas go back to the heap first, and with it to the OS. It also
     * tries again to unmap the mappings the OS refused to take back before.
     *
     * @return the bytes given back to the OS, unmapped or purged
     * @throws IllegalStateException if the OS refused an unmap (the mapping stays mapped and counted in
     *                               {@link AllocatorStats#mappedBytes()}; the next trim tries again) or a purge;
     *                               everything else is given back first
     */
    public long trim() {
        TrimEvent event = new TrimEvent();
        event.begin();
        IllegalStateException drainRefused = null;
        try {
            chunkPool.drain(); // to the heap, not the OS: the heap's trim then gives them back with the rest
        } catch (IllegalStateException refused) { // every chunk was freed; the OS refused an unmap, tried again below
            drainRefused = refused;
        }
        long given;
        try {
            given = heap.trim();
        } catch (IllegalStateException refused) {
            if (drainRefused != null) {
                refused.addSuppressed(drainRefused);
            }
            throw refused;
        }
        // Here the heap's trim gave back every owed mapping, the one the drain left included: nothing is left owed.
        event.commit(heap.name(), given);
        return given;
    }

    /**
     * {@return this allocator's name: {@code global} for {@link #global()}, else the one given to
     * {@link Builder#name}} It names the allocator in JFR events, log messages and its management bean.
     */
    public String name() {
        return heap.name();
    }

    /**
     * A picture of the heap for people: each region with a bar of its occupancy and its blocks, then the blocks
     * that have a mapping of their own.
     *
     * {@snippet lang = text:
     * MemAlloc heap: 4.0 MiB mapped; regions: 1 (0 empty); large blocks: 0; live allocations: 2, 64 B asked
     * region 0x7f0c40000000 (4.0 MiB, stripe 1): 2 live blocks, 112 B in use
     *   |+...............................................................|   # in use  + partly  . free
     *   0x7f0c40000008  in use       80 B   64 B asked, align 16
     *   0x7f0c40000058  in use       32 B   0 B asked, align 16
     *   0x7f0c40000078  free      4.0 MiB
     * }
     *
     * @return the picture, one line per region and block
     */
    public String heapMap() {
        return heap.map();
    }

    /**
     * Walks every region, block and free list and checks the heap's invariants: blocks tile each region, no two
     * free blocks touch, every free block is in its list, the counters agree with the blocks. For tests and
     * debugging; call it when no other thread is using the allocator.
     *
     * @throws IllegalStateException naming the first broken invariant
     */
    public void verifyHeap() {
        heap.verify();
    }

    /**
     * Unmaps everything this allocator mapped. Its segments become inaccessible: using one throws
     * {@link IllegalStateException}, as a closed arena's do.
     *
     * <p>Blocks never freed are a leak in the code that allocated them: close reports how many and their bytes (and,
     * when built with {@link Builder#leakSites leakSites(true)}, where the oldest five were allocated), as a warning
     * through {@link System.Logger} and a JFR event ({@code io.memalloc.LeakDetected}), then unmaps them all the
     * same. Its management bean, if it has one, is unregistered.
     *
     * @throws UnsupportedOperationException on {@link #global()}
     * @throws IllegalStateException         if it is closed already, if an arena drawing on it is still open, or if
     *                                       one of its segments is in use by a downcall (then nothing is unmapped);
     *                                       or if, closed, it still holds a mapping the OS refused to take back
     *                                       ({@link #stats()} counts it)
     */
    @Override
    public void close() {
        if (arena == null) {
            throw new UnsupportedOperationException("MemAlloc.global() cannot be closed");
        }
        if (!openArenas.compareAndSet(0, -1)) {
            int open = openArenas.get();
            throw new IllegalStateException(open < 0 ? "this MemAlloc is closed already"
                    : open + " arenas drawing on this MemAlloc are still open; close them first");
        }
        try {
            arena.close();
        } catch (IllegalStateException e) {
            openArenas.set(0);
            throw e;
        }
        IllegalStateException drainRefused = null;
        try {
            chunkPool.drain();
        } catch (IllegalStateException refused) { // every chunk was freed; the heap's close tries that unmap again
            drainRefused = refused;
        }
        reportLeaks();
        try {
            heap.close(); // throws when, at its end, a mapping is still owed to the OS
        } catch (IllegalStateException refused) {
            if (drainRefused != null) {
                refused.addSuppressed(drainRefused);
            }
            throw refused;
        } finally {
            ManagementBean.unregister(beanName);
            // Last, so that a logging handler that throws cannot keep the heap open: the counts of its leaked
            // arenas not logged yet, now or never.
            ArenaAllocator.allocatorClosed(name());
        }
    }

    /** How many sites of blocks never freed a leak report names at most. */
    static final int REPORTED_SITES = 5;

    private void reportLeaks() {
        AllocatorStats stats = stats();
        if (stats.liveAllocations() > 0) {
            StringBuilder what = new StringBuilder("MemAlloc '" + name() + "' closed with " + stats.liveAllocations()
                    + " blocks never freed (" + stats.allocatedBytes() + " bytes asked for); they are unmapped now.");
            List<Sites.Site> sites = blockSites == null ? List.of() : blockSites.oldest(REPORTED_SITES);
            if (blockSites == null) {
                what.append(" Build it with leakSites(true) to learn where they were allocated.");
            } else {
                what.append(" The oldest were allocated:");
                for (Sites.Site site : sites) {
                    what.append("\n  ").append(Sites.firstCaller(site));
                }
            }
            // The oldest site's whole stack goes with the message, for a logger that prints it.
            LOG.log(System.Logger.Level.WARNING, what.toString(), sites.isEmpty() ? null
                    : Sites.fromCaller(sites.get(0)));
            LeakDetectedEvent.detected(name(), what.toString(), stats.liveAllocations(), stats.allocatedBytes());
        }
    }

    @Override
    public String toString() {
        return "MemAlloc[" + name() + (heap.isClosed() ? ", closed, " : ", ") + stats() + "]";
    }

    static void checkAllocation(long byteSize, long byteAlignment) {
        checkSize(byteSize);
        if (byteAlignment <= 0 || Long.bitCount(byteAlignment) != 1) {
            throw new IllegalArgumentException("byteAlignment " + byteAlignment + " is not a power of two");
        }
    }

    private static void checkSize(long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize " + byteSize + " is negative");
        }
    }

    /**
     * Shapes an allocator of its own.
     *
     * {@snippet lang = java file = "JavadocSnippets.java" region = "builder"}
     */
    public static final class Builder {
        /** Allocators built so far, for default names. */
        private static final AtomicInteger BUILT = new AtomicInteger();
        private long regionSize = HeapConfig.DEFAULT_REGION_SIZE;
        private int stripes = HeapConfig.defaultStripes();
        private long maxMappedBytes = Long.MAX_VALUE;
        private int cachedRegions = -1;
        private String name;
        private boolean managementBean;
        private boolean hardened;
        private boolean leakSites;
        private boolean guardPages;

        private Builder() {}

        /**
         * The allocator's name, for JFR events, log messages and its management bean: letters, digits and
         * {@code . _ -}, 1 to 64 of them; {@code global} is taken. By default {@code private-N}, N counting the
         * allocators built.
         *
         * @param name the name
         * @return this builder
         * @throws IllegalArgumentException if the name is null, {@code global}, or not made of those characters
         */
        public Builder name(String name) {
            if (name == null || name.isEmpty() || name.length() > 64 || name.equals("global")
                    || !name.chars().allMatch(c -> c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '_'
                            || c == '-'))) {
                throw new IllegalArgumentException("name '" + name + "' is not 1 to 64 letters, digits, '.', '_' or"
                        + " '-', or is 'global'");
            }
            this.name = name;
            return this;
        }

        /**
         * Whether to register a platform MXBean ({@link MemAllocMXBean}) for the allocator, as
         * {@code io.memalloc:type=MemAlloc,name=NAME}, from {@link #build()} to {@link MemAlloc#close()}; off by
         * default. {@link #build()} throws {@link IllegalStateException} when a bean of that name is registered
         * already.
         *
         * @param register whether to register one
         * @return this builder
         */
        public Builder managementBean(boolean register) {
            this.managementBean = register;
            return this;
        }

        /**
         * Whether the allocator checks its users' mistakes at some cost in speed; off by default. A hardened
         * allocator:
         * <ul>
         * <li>writes a canary after each block's requested size and checks it at {@link MemAlloc#free},
         *     {@link MemAlloc#reallocate} and {@link MemAlloc#verifyHeap}: a write past the end is an
         *     {@link IllegalStateException} naming the block, its size and the first byte damaged;</li>
         * <li>fills freed memory with {@code 0xDF} and holds freed blocks in a quarantine (up to 1,024 blocks and
         *     4 MiB) before reuse, so that a double free is refused even after unrelated traffic, and a write
         *     after free is reported (a warning and a JFR event) when the block leaves the quarantine;</li>
         * <li>gives an arena's chunks back to the heap at close, which poisons them like any freed block.</li>
         * </ul>
         * Faults are also JFR events ({@code io.memalloc.FaultDetected}). {@link MemAlloc#global()} is hardened by
         * the system property {@code memalloc.hardened=true}.
         *
         * @param hardened whether to harden it
         * @return this builder
         */
        public Builder hardened(boolean hardened) {
            this.hardened = hardened;
            return this;
        }

        /**
         * Whether to record where memory is handed out, for leak reports; off by default, since each record is a
         * stack trace (microseconds). With it, {@link MemAlloc#close()} names where the oldest blocks never freed
         * were allocated (up to five), and an arena that becomes unreachable without
         * being closed is reported with where it was created. {@link MemAlloc#global()} records them (for arenas)
         * with the system property {@code memalloc.leakSites=true}.
         *
         * {@snippet lang = java file = "JavadocSnippets.java" region = "leakSites"}
         *
         * @param record whether to record them
         * @return this builder
         */
        public Builder leakSites(boolean record) {
            this.leakSites = record;
            return this;
        }

        /**
         * Whether each large block (one with a mapping of its own: see {@link #regionSize}) is followed by a guard
         * page, which faults when touched; off by default. A write running past the end of such a block then stops
         * the process at the guard, with the JVM's fatal error report, instead of going on into whatever is mapped
         * next. The block ends where it would without the guard, so a write past its end but short of the guard
         * (the rest of its mapping: less than a page on Linux and macOS, up to 64 KiB on Windows) is not caught by
         * the guard: a {@link #hardened} allocator's canary catches that at {@code free}. It costs a page of address
         * space (not of memory) and a system call per large mapping. {@link MemAlloc#global()} has them with the
         * system property {@code memalloc.guardPages=true}.
         *
         * @param guard whether to put a guard page after each large block
         * @return this builder
         */
        public Builder guardPages(boolean guard) {
            this.guardPages = guard;
            return this;
        }

        /**
         * The size of each region: a power of two from 64 KiB to 256 MiB; 4 MiB by default. A request above half a
         * region or above 1 MiB, whichever is less, gets a mapping of its own (counted with the block around it: its
         * header, rounding and any alignment padding): above 1 MiB with the default regions, above half a region with
         * regions of 2 MiB or less.
         *
         * @param regionSize the size in bytes
         * @return this builder
         * @throws IllegalArgumentException if it is not a power of two from 64 KiB to 256 MiB
         */
        public Builder regionSize(long regionSize) {
            if (!HeapConfig.isRegionSize(regionSize)) {
                throw new IllegalArgumentException("regionSize " + regionSize
                        + " is not a power of two from 64 KiB to 256 MiB");
            }
            this.regionSize = regionSize;
            return this;
        }

        /**
         * How many lock stripes: a power of two from 1 to 1024; by default twice the processors, rounded up.
         *
         * @param stripes how many
         * @return this builder
         * @throws IllegalArgumentException if it is not a power of two from 1 to 1024
         */
        public Builder stripes(int stripes) {
            if (!HeapConfig.isStripeCount(stripes)) {
                throw new IllegalArgumentException("stripes " + stripes + " is not a power of two from 1 to "
                        + HeapConfig.MAX_STRIPES);
            }
            this.stripes = stripes;
            return this;
        }

        /**
         * The most this allocator may have mapped at once; unlimited by default. A request that would go over it,
         * once the cached empty regions are given back, throws {@link OutOfMemoryError}.
         *
         * @param maxMappedBytes the most, in bytes
         * @return this builder
         * @throws IllegalArgumentException if it is not positive
         */
        public Builder maxMappedBytes(long maxMappedBytes) {
            if (maxMappedBytes <= 0) {
                throw new IllegalArgumentException("maxMappedBytes " + maxMappedBytes + " is not positive");
            }
            this.maxMappedBytes = maxMappedBytes;
            return this;
        }

        /**
         * How many empty regions are kept mapped for reuse rather than unmapped; by default one per stripe (as many as
         * {@link #stripes}). {@link MemAlloc#global()} keeps 2 unless {@code memalloc.cachedRegions} says otherwise.
         *
         * @param cachedRegions how many, 0 or more
         * @return this builder
         * @throws IllegalArgumentException if it is negative
         */
        public Builder cachedRegions(int cachedRegions) {
            if (cachedRegions < 0) {
                throw new IllegalArgumentException("cachedRegions " + cachedRegions + " is negative");
            }
            this.cachedRegions = cachedRegions;
            return this;
        }

        /**
         * {@return a new allocator} Nothing is mapped until the first allocation.
         *
         * @throws IllegalStateException if {@linkplain #managementBean(boolean) its management bean} cannot be
         *                               registered: one of its name is registered already
         */
        public MemAlloc build() {
            return build(OsMemory.system());
        }

        /** A new allocator on the given OS layer: tests give a fake one. */
        MemAlloc build(OsMemory os) {
            String named = name != null ? name : "private-" + BUILT.incrementAndGet();
            HeapConfig config = new HeapConfig(named, regionSize, stripes, maxMappedBytes,
                    cachedRegions < 0 ? stripes : cachedRegions, 0, hardened, guardPages);
            return new MemAlloc(os, config, false, managementBean, leakSites);
        }
    }
}
