package io.memalloc.internal.heap;

import io.memalloc.internal.event.AllocationFailedEvent;
import io.memalloc.internal.event.RegionMappedEvent;
import io.memalloc.internal.event.RegionUnmappedEvent;
import io.memalloc.internal.os.AddressSpace;
import io.memalloc.internal.os.OsMemory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * What one heap has mapped from the OS, within its cap: every map and unmap goes through here, with its events and
 * its counters.
 *
 * <pre>
 *  map:   reserve the bytes under maxMappedBytes ──(no room)──> retry the owed, give back for room, reserve again
 *         ──> OsMemory.map ──> check the address (unusable: given back, an OutOfMemoryError) ──> RegionMapped
 *  unmap: OsMemory.unmap ──(refused)──> owed: still mapped and counted, tried again by trim, close and the cap
 *                        ──> RegionUnmapped
 * </pre>
 */
final class Mappings {
    private static final System.Logger LOG = System.getLogger("io.memalloc.MemAlloc");

    private final String name;
    private final OsMemory os;
    private final long maxMappedBytes;
    /** Gives back what the heap holds mapped and unused (empty regions, spares), adding the OS's refusals. */
    private final Consumer<Failures> giveBackForRoom;
    private final OwedMappings owed = new OwedMappings();
    /** Regions, large blocks, spares and owed mappings: everything the OS holds mapped for the heap. */
    private final AtomicLong mappedBytes = new AtomicLong();
    private final AtomicLong mapCount = new AtomicLong();
    private final AtomicLong unmapCount = new AtomicLong();

    Mappings(String name, OsMemory os, long maxMappedBytes, Consumer<Failures> giveBackForRoom) {
        this.name = name;
        this.os = os;
        this.maxMappedBytes = maxMappedBytes;
        this.giveBackForRoom = giveBackForRoom;
    }

    /**
     * Maps within {@code maxMappedBytes}, giving back the owed mappings and then what the heap can give back for
     * room first when the cap is near; refuses a mapping the heap cannot use (see {@link #unusable}).
     *
     * @param request the size the user asked for, for the message
     * @param stripe  the stripe of the region mapped, or a negative number: for the event (see {@link Heap})
     */
    long map(long byteSize, long alignment, long request, int stripe) {
        if (!reserve(byteSize)) {
            Failures refusals = new Failures();
            try {
                retryOwed(); // first, so that one refused now is not tried twice in a row
            } catch (IllegalStateException refused) {
                refusals.add(refused);
            }
            giveBackForRoom.accept(refusals);
            if (!reserve(byteSize)) {
                long mapped = mappedBytes.get();
                OutOfMemoryError error = new OutOfMemoryError("MemAlloc: a request of " + request
                        + " bytes needs a new mapping of " + Sizes.exact(byteSize) + "; " + Sizes.exact(mapped)
                        + " are mapped already, and maxMappedBytes is " + Sizes.exact(maxMappedBytes) + ", so "
                        + Sizes.exact(Math.max(0, maxMappedBytes - mapped)) + " are left");
                if (refusals.first() != null) {
                    error.addSuppressed(refusals.first());
                }
                throw failed(request, error);
            }
            if (refusals.first() != null) {
                warn(refusals.first()); // the request is met: the refused mappings stay owed
            }
        }
        RegionMappedEvent event = new RegionMappedEvent();
        event.begin();
        long address;
        try {
            address = os.map(byteSize, alignment);
        } catch (OutOfMemoryError e) {
            mappedBytes.addAndGet(-byteSize);
            throw failed(request, e);
        } catch (RuntimeException | Error e) {
            mappedBytes.addAndGet(-byteSize);
            throw e;
        }
        String unusable = unusable(address, byteSize, alignment);
        if (unusable != null) {
            throw failed(request, refuseMapping(address, byteSize, alignment, unusable));
        }
        mapCount.incrementAndGet();
        event.commit(name, address, byteSize, stripe);
        return address;
    }

    /**
     * Why the heap cannot use a mapping the OS layer returned, or null when it can. The layer promises memory at an
     * address aligned as asked; the heap also relies on every address it maps lying below
     * {@link AddressSpace#USER_END}: it reads and writes through a segment over the address space, and adds sizes to
     * addresses without overflow checks.
     */
    private static String unusable(long address, long byteSize, long alignment) {
        if (address == 0) {
            return "it is 0";
        }
        if ((address & (alignment - 1)) != 0) {
            return "it is not aligned to " + alignment;
        }
        if (address < 0 || address > AddressSpace.USER_END - byteSize) {
            return "it does not lie below 0x" + Long.toHexString(AddressSpace.USER_END)
                    + ", where the user address space ends";
        }
        return null;
    }

    /**
     * Gives back a mapping the heap cannot use and uncounts it: nothing of it stays. An {@link OutOfMemoryError},
     * not an {@link IllegalStateException}: the request cannot be met for want of memory the heap can use, the heap
     * is unchanged (the next request may well be served), and callers handle an OutOfMemoryError from a map already,
     * as they must for a refused one; an IllegalStateException from allocate means a closed allocator.
     */
    private OutOfMemoryError refuseMapping(long address, long byteSize, long alignment, String why) {
        OutOfMemoryError error = new OutOfMemoryError("MemAlloc '" + name + "': the OS returned 0x"
                + Long.toHexString(address) + " for a mapping of " + byteSize + " bytes aligned to " + alignment
                + ", and " + why + "; the mapping was given back");
        try {
            os.unmap(address, byteSize);
        } catch (RuntimeException refused) {
            // Not owed: an OS layer that hands out such an address cannot be trusted to take it back later either.
            error.addSuppressed(refused);
        } finally {
            mappedBytes.addAndGet(-byteSize);
        }
        return error;
    }

    /** Reports a request that cannot be met, then gives back the error to throw. */
    OutOfMemoryError failed(long request, OutOfMemoryError error) {
        AllocationFailedEvent.failed(name, request, error);
        return error;
    }

    private boolean reserve(long byteSize) {
        for (long mapped = mappedBytes.get(); mapped <= maxMappedBytes - byteSize; mapped = mappedBytes.get()) {
            if (mappedBytes.compareAndSet(mapped, mapped + byteSize)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Gives a mapping back to the OS.
     *
     * @param stripe as for {@link #map}
     * @throws IllegalStateException when the OS refuses: the mapping stays mapped and counted, owed (see
     *                               {@link OwedMappings})
     */
    void unmap(long address, long byteSize, int stripe) {
        RegionUnmappedEvent event = new RegionUnmappedEvent();
        event.begin();
        try {
            os.unmap(address, byteSize);
        } catch (RuntimeException refused) {
            owed.add(new OwedMappings.Owed(address, byteSize, stripe));
            throw new IllegalStateException("MemAlloc '" + name + "': the OS did not take back the mapping at 0x"
                    + Long.toHexString(address) + " (" + Sizes.format(byteSize) + "); it stays mapped and counted"
                    + " in mappedBytes, and trim() and close() try again", refused);
        }
        mappedBytes.addAndGet(-byteSize);
        unmapCount.incrementAndGet();
        event.commit(name, address, byteSize, stripe);
    }

    /**
     * Tries again to give back the mappings the OS refused; those it refuses again stay owed.
     *
     * @return the bytes given back
     * @throws IllegalStateException the first refusal, once every one was tried
     */
    long retryOwed() {
        Failures failures = new Failures();
        long given = 0;
        for (OwedMappings.Owed mapping : owed.takeAll()) {
            try {
                unmap(mapping.address(), mapping.byteSize(), mapping.stripe());
                given += mapping.byteSize();
            } catch (IllegalStateException refused) {
                failures.add(refused);
            }
        }
        failures.throwIfAny();
        return given;
    }

    /** Logs a refusal that the call during which it happened must not throw; the OS's reason is in its cause. */
    static void warn(RuntimeException refused) {
        Throwable reason = refused.getCause();
        LOG.log(System.Logger.Level.WARNING, refused.getMessage() + (reason != null ? ": " + reason.getMessage() : ""));
    }

    OwedMappings owed() {
        return owed;
    }

    long mappedBytes() {
        return mappedBytes.get();
    }

    long mapCount() {
        return mapCount.get();
    }

    long unmapCount() {
        return unmapCount.get();
    }
}
