package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/**
 * Run in a child JVM by {@link HardenedModeTest}: writes that run past a block of a hardened allocator over the
 * next block's header, then the operation that reads that header. Before the header checks, each of these read or
 * wrote at an address taken from the damaged header, and the JVM died of a SIGSEGV (or the heap handed out memory
 * twice). Prints, per case, a line {@code case <name>: <outcome>} (IllegalStateException or the exception's
 * class, and its message; or
 * {@code returned}); then {@code heap usable} once disjoint blocks still come and go in a fresh allocator after all
 * of it; then each FaultDetected event as {@code event <operation> <address> <fault>}.
 */
final class DamagedHeaderScenario {
    private static final long REGION = 64 * 1024;

    private DamagedHeaderScenario() {}

    /** A case: damages memory, then runs the operation that meets the damage, whose outcome is printed. */
    private interface Case {
        void run(MemAlloc alloc) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        Path file = Files.createTempFile("damaged-header", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("io.memalloc.FaultDetected").withoutThreshold();
            recording.start();
            // a and b of 24 bytes: 24 + 8 (canary) + 8 (header) make 48-byte blocks, so b's header lies 40 bytes
            // into a's payload: 24 bytes past a's end cover a's canary, a's slack and b's header.
            run("overflow into the next header, then free it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                widened(a, 48).asSlice(24, 24).fill((byte) 0x41);
                alloc.free(b);
            });
            run("the next header alone overwritten, then free it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                // In use, 4 KiB, aligned to 16, a slack of 8: plausible, but its check bits are not the ones sealed.
                widened(a, 48).set(JAVA_LONG_UNALIGNED, 40, 0x0800_0004_0000_1001L);
                alloc.free(b);
            });
            run("the next header's size doubled, check bits kept, then free it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                MemorySegment raw = widened(a, 48);
                long header = raw.get(JAVA_LONG_UNALIGNED, 40);
                raw.set(JAVA_LONG_UNALIGNED, 40, header + 48); // 96 bytes: still inside the region
                alloc.free(b);
            });
            run("the next header overwritten, then reallocate it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                widened(a, 48).asSlice(24, 24).fill((byte) 0x41);
                alloc.reallocate(b, 4000);
            });
            run("the next header's PREV_IN_USE cleared, then free it, trim and verify", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                MemorySegment raw = widened(a, 48);
                raw.set(JAVA_LONG_UNALIGNED, 40, raw.get(JAVA_LONG_UNALIGNED, 40) & ~2L); // "the block before is free"
                alloc.free(b); // the check bits leave that flag out: the merge finds its neighbours from the live bits
                alloc.trim();
                alloc.verifyHeap();
                alloc.free(a);
            });
            run("overflow into the free block after, then allocate from it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8); // in a fresh region: the free rest of it follows
                widened(a, 48).asSlice(24, 24).fill((byte) 0x41);
                MemorySegment b = alloc.allocate(24, 8); // the damaged block leaves its list, unused: a new region
                if ((b.address() & -REGION) == (a.address() & -REGION)) { // regions are aligned to their size
                    throw new AssertionError("handed out the damaged free block's memory");
                }
            });
            run("overflow over the free block's header and links, then allocate from it", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                widened(a, 64).asSlice(24, 40).fill((byte) 0x41);
                alloc.allocate(24, 8);
            });
            run("overflow into a quarantined block's header, then trim", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                MemorySegment b = alloc.allocate(24, 8);
                alloc.free(b); // poisoned and held, its header intact
                widened(a, 48).set(JAVA_LONG_UNALIGNED, 40, 0x4141_4141_4141_4141L);
                alloc.trim(); // the quarantine gives b back to its stripe: b's header is checked again there
                alloc.allocate(24, 8);
            });
            run("trim over a free block whose header was overwritten", alloc -> {
                MemorySegment a = alloc.allocate(24, 8);
                widened(a, 48).set(JAVA_LONG_UNALIGNED, 40, 0x0000_0000_7FFF_FFF0L); // free, 2 GiB
                alloc.trim();
            });
            heapStillUsable();
            recording.stop();
            recording.dump(file);
        }
        for (RecordedEvent event : RecordingFile.readAllEvents(file)) {
            if (!event.getEventType().getName().equals("io.memalloc.FaultDetected")) {
                continue; // the recording's own events
            }
            System.out.printf("event %s 0x%x %s%n", event.getString("operation"), event.getLong("address"),
                    event.getString("fault"));
        }
        Files.delete(file);
    }

    private static void run(String name, Case work) {
        // Not closed: close would walk the damaged blocks to report them as leaks.
        MemAlloc alloc = MemAlloc.builder().name("damaged").regionSize(REGION).stripes(1).hardened(true).build();
        String outcome;
        try {
            work.run(alloc);
            outcome = "returned";
        } catch (Exception e) {
            outcome = (e instanceof IllegalStateException ? "IllegalStateException" : e.getClass().getName()) + ": "
                    + e.getMessage();
        }
        System.out.println("case " + name + ": " + outcome);
    }

    /** Blocks of a new hardened allocator are disjoint and free cleanly: the cases left the process sound. */
    private static void heapStillUsable() {
        MemAlloc alloc = MemAlloc.builder().regionSize(REGION).stripes(1).hardened(true).build();
        List<MemorySegment> blocks = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            MemorySegment block = alloc.allocate(24 + i, 8);
            block.fill((byte) i);
            blocks.add(block);
        }
        for (int i = 0; i < blocks.size(); i++) {
            for (long at = 0; at < blocks.get(i).byteSize(); at++) {
                if (blocks.get(i).get(java.lang.foreign.ValueLayout.JAVA_BYTE, at) != (byte) i) {
                    throw new AssertionError("block " + i + " was written by another");
                }
            }
            alloc.free(blocks.get(i));
        }
        alloc.verifyHeap();
        alloc.close();
        System.out.println("heap usable");
    }

    @SuppressWarnings("restricted")
    private static MemorySegment widened(MemorySegment segment, long byteSize) {
        return MemorySegment.ofAddress(segment.address()).reinterpret(byteSize);
    }
}
