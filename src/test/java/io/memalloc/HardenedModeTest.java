package io.memalloc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hardened mode finds what its users get wrong: writes past the end, double frees after other traffic, writes
 * after free; and it poisons what was freed. The writes past the end below go through a segment widened with
 * {@code reinterpret}, as a native library writing too far would.
 */
class HardenedModeTest {
    private static final long REGION = 64 * 1024;

    @RegisterExtension
    final LogCapture log = new LogCapture();

    @TempDir
    Path dir;

    private static MemAlloc hardened() {
        return MemAlloc.builder().regionSize(REGION).stripes(1).hardened(true).build();
    }

    @SuppressWarnings("restricted")
    private static MemorySegment widened(MemorySegment segment, long byteSize) {
        return MemorySegment.ofAddress(segment.address()).reinterpret(byteSize);
    }

    /**
     * Writes over one byte of a canary with a value it cannot have had: a fixed value is already there once in 256
     * heaps, since the canary comes from a random secret.
     */
    private static void flip(MemorySegment raw, long offset) {
        raw.set(JAVA_BYTE, offset, (byte) ~raw.get(JAVA_BYTE, offset));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 7})
    void aWritePastTheEndIsReportedAtFreeNamingTheBlockItsSizeAndTheFirstByteDamaged(int pastTheEnd) {
        MemAlloc alloc = hardened();
        MemorySegment block = alloc.allocate(100, 8);
        flip(widened(block, 108), 100 + pastTheEnd);

        String expected = String.format("the block at 0x%x of 100 bytes was written past its end: its canary is"
                + " damaged from 0x%x on, byte %d after the end", block.address(), block.address() + 100 + pastTheEnd,
                pastTheEnd);
        assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith(expected);
        assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith(expected);
        assertThatThrownBy(() -> alloc.reallocate(block, 500)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith(expected);
        // Refused, not freed: the block is still the user's, and everything else works.
        assertThat(alloc.stats().liveAllocations()).isEqualTo(1);
        MemorySegment other = alloc.allocate(100, 8);
        alloc.free(other);
        alloc.close();
        assertThat(log.take()).as("the damaged block, refused by free, is left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(alloc.name(), 1, 100));
    }

    @Test
    void aDamagedCanaryIsAFaultDetectedEventNamingTheOperationAndTheBlock() throws Exception {
        Faults faults = faultsWhile("overflow", alloc -> {
            MemorySegment block = alloc.allocate(48, 8);
            flip(widened(block, 56), 50);
            assertThatThrownBy(() -> alloc.free(block)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> alloc.reallocate(block, 100)).isInstanceOf(IllegalStateException.class);
            return block.address();
        });
        long address = faults.address();
        assertThat(log.take()).as("the damaged block, refused, is left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed("overflow", 1, 48));
        assertThat(faults.events()).extracting(e -> e.getString("operation")).containsExactly("free", "reallocate");
        assertThat(faults.events()).allSatisfy(e -> {
            assertThat(e.getLong("address")).isEqualTo(address);
            assertThat(e.getString("fault")).contains(String.format("the block at 0x%x of 48 bytes was written past"
                    + " its end: its canary is damaged from 0x%x on", address, address + 50));
        });
    }

    @Test
    void aWriteOverTheNextHeaderIsAnIllegalStateExceptionAndAFaultDetectedEventNeverACrash() throws Exception {
        ChildJvm.Outcome outcome = ChildJvm.run(DamagedHeaderScenario.class, Duration.ofSeconds(90));
        String output = outcome.output();
        assertThat(outcome.exitCode()).as(output).isZero();
        String header = ": IllegalStateException: the header of the block at 0x";
        String free = ": IllegalStateException: the free block at 0x";
        assertThat(output.lines().filter(line -> line.startsWith("case "))).as(output).satisfiesExactly(
                line -> assertThat(line).startsWith("case overflow into the next header, then free it" + header)
                        .contains("is damaged: its size, 1094795584, does not fit the region"),
                line -> assertThat(line).startsWith("case the next header alone overwritten, then free it" + header)
                        .contains("is damaged: its check bits do not match"),
                line -> assertThat(line).startsWith("case the next header's size doubled, check bits kept, then free"
                        + " it" + header).contains("is damaged: its check bits do not match"),
                line -> assertThat(line).startsWith("case the next header overwritten, then reallocate it" + header),
                line -> assertThat(line).isEqualTo("case the next header's PREV_IN_USE cleared, then free it, trim and"
                        + " verify: returned"),
                line -> assertThat(line).isEqualTo("case overflow into the free block after, then allocate from it:"
                        + " returned"),
                line -> assertThat(line).startsWith("case overflow over the free block's header and links, then"
                        + " allocate from it" + free).contains("is damaged: it says the block is in use"),
                line -> assertThat(line).isEqualTo("case overflow into a quarantined block's header, then trim:"
                        + " returned"),
                line -> assertThat(line).startsWith("case trim over a free block whose header was overwritten" + free)
                        .contains("its size, 2147483632, is not the 65472 bytes up to the next block in use"));
        assertThat(output).contains("is damaged: it says the block is in use (header 0x4141414141414141; a write past"
                + " the end of the block before it, or after a free?); the block is kept out of use");
        assertThat(output).contains("is damaged: its size, 1094795584, does not fit the region (header"
                + " 0x4141414141414141; a write past the end of the block before it?); the block is kept out of use");
        assertThat(output).contains("heap usable");
        assertThat(output.lines().filter(line -> line.startsWith("event ")).map(line -> line.substring(6, line.indexOf(" 0x"))))
                .containsExactly("free", "free", "free", "reallocate", "allocate", "allocate", "quarantine", "trim");
    }

    @Test
    void aWritePastTheEndOfALargeBlockIsReportedToo() {
        String name;
        try (MemAlloc alloc = hardened()) {
            MemorySegment large = alloc.allocate(REGION, 16);
            assertThat(alloc.stats().largeBlockCount()).isEqualTo(1);
            flip(widened(large, REGION + 8), REGION);
            assertThatThrownBy(() -> alloc.free(large)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("of " + REGION + " bytes was written past its end");
            assertThatThrownBy(() -> alloc.reallocate(large, 2 * REGION)).isInstanceOf(IllegalStateException.class);
            assertThat(alloc.stats().largeBlockCount()).isEqualTo(1);
            name = alloc.name();
        }
        assertThat(log.take()).as("the damaged block, refused, is left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 1, REGION));
    }

    @Test
    void blocksThatStayInBoundsFreeReallocateAndVerifyCleanly() {
        try (MemAlloc alloc = hardened()) {
            MemorySegment small = alloc.allocate(100, 8);
            small.fill((byte) 1); // every byte it owns, and not one more
            MemorySegment grown = alloc.reallocate(small, 300);
            grown.fill((byte) 2);
            MemorySegment shrunk = alloc.reallocate(grown, 20);
            shrunk.fill((byte) 3);
            MemorySegment large = alloc.reallocate(shrunk, REGION);
            large.fill((byte) 4);
            alloc.verifyHeap();
            alloc.free(large);
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
            assertThat(alloc.stats().allocatedBytes()).isZero();
        }
    }

    @Test
    void aStrayWriteOverAFreeBlocksLinksIsDetectedInsteadOfFollowed() {
        String name;
        try (MemAlloc alloc = hardened()) {
            // In a fresh region the first block is followed by the free rest of the region. 100 bytes, the canary
            // and the header make a 128-byte block, so the free block's header lies 120 bytes into the payload and
            // its next link 128 bytes in.
            MemorySegment block = alloc.allocate(100, 8);
            long freeBlock = block.address() + 120;
            MemorySegment raw = widened(block, 136);
            alloc.verifyHeap();
            raw.set(JAVA_LONG_UNALIGNED, 128, freeBlock + 64); // an overflow writes an address that looks plausible

            String expected = String.format("a free list is corrupt: the free block at 0x%x links to", freeBlock);
            assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(expected);
            assertThatThrownBy(() -> alloc.allocate(200, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(expected);
            name = alloc.name();
        }
        assertThat(log.take()).as("the block, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 1, 100));
    }

    @Test
    void aLinkRewrittenToAnotherFreeBlockIsCaughtWhenTheBlockIsUnlinked() {
        String name;
        try (MemAlloc alloc = hardened()) {
            alloc.allocate(100, 8); // so that the freed block has no free neighbour to merge with
            MemorySegment freed = alloc.allocate(100, 8);
            MemorySegment after = alloc.allocate(100, 8);
            alloc.free(freed);
            alloc.trim(); // out of the quarantine, into its free list, alone in its bin
            MemorySegment links = widened(freed, 16);
            // Say a program learned the key (the next link of a bin's only block is 0 XOR key) and pointed the
            // link at the free rest of the region: a free block of the stripe, so only safe unlinking sees it.
            long key = links.get(JAVA_LONG_UNALIGNED, 0);
            long rest = after.address() + 120;
            links.set(JAVA_LONG_UNALIGNED, 0, key ^ rest);

            assertThatThrownBy(alloc::verifyHeap).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> alloc.allocate(100, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(String.format("the free block at 0x%x is not linked back by its next,"
                            + " 0x%x", freed.address() - 8, rest));
            name = alloc.name();
        }
        assertThat(log.take()).as("the blocks either side, left to close").singleElement(STRING)
                .startsWith(LogCapture.neverFreed(name, 2, 200));
    }

    @Test
    void aDoubleFreeIsRefusedEvenAfterUnrelatedTrafficAndTheBlockIsNotReusedMeanwhile() {
        try (MemAlloc alloc = hardened()) {
            MemorySegment first = alloc.allocate(64, 8);
            alloc.free(first);
            Set<Long> handedOut = new HashSet<>();
            for (int i = 0; i < 500; i++) {
                MemorySegment other = alloc.allocate(64, 8);
                handedOut.add(other.address());
                alloc.free(other);
            }
            assertThat(handedOut).doesNotContain(first.address());
            assertThatThrownBy(() -> alloc.free(first)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not the start of a live block");
            alloc.verifyHeap();
        }
    }

    @Test
    void freedMemoryIsPoisonedAndAnArenasChunksToo() {
        try (MemAlloc alloc = hardened()) {
            MemorySegment block = alloc.allocate(40, 8);
            block.fill((byte) 7);
            MemorySegment raw = widened(block, 48);
            alloc.free(block);
            for (long i = 0; i < 48; i++) {
                assertThat(raw.get(JAVA_BYTE, i)).as("byte %d", i).isEqualTo((byte) 0xDF);
            }

            MemorySegment rawSlice;
            try (Arena arena = alloc.newConfinedArena()) {
                MemorySegment slice = arena.allocate(100, 8);
                slice.fill((byte) 9);
                rawSlice = widened(slice, 100);
            }
            for (long i = 0; i < 100; i++) {
                assertThat(rawSlice.get(JAVA_BYTE, i)).as("byte %d", i).isEqualTo((byte) 0xDF);
            }
        }
    }

    @Test
    void aWriteAfterFreeIsReportedWhenTheBlockLeavesTheQuarantine() throws Exception {
        Faults faults = faultsWhile("use-after-free", alloc -> {
            MemorySegment block = alloc.allocate(32, 8);
            MemorySegment raw = widened(block, 32);
            alloc.free(block);
            raw.set(JAVA_BYTE, 5, (byte) 1); // the bug: a write after free
            alloc.trim(); // empties the quarantine
            alloc.verifyHeap();
            assertThat(alloc.stats().liveAllocations()).isZero();
            return block.address();
        });
        assertThat(log.take()).containsExactly(String.format("WARNING: MemAlloc 'use-after-free': the freed block at"
                + " 0x%x of 32 bytes was written after its free, at 0x%x (a use after free)", faults.address(),
                faults.address() + 5));
        assertThat(faults.events()).singleElement().satisfies(e -> {
            assertThat(e.getString("operation")).isEqualTo("quarantine");
            assertThat(e.getLong("address")).isEqualTo(faults.address());
            assertThat(e.getString("fault")).contains(String.format("written after its free, at 0x%x",
                    faults.address() + 5));
        });
    }

    /** What a test does to a hardened allocator; returns the address of the block it is about. */
    private interface Work {
        long run(MemAlloc alloc) throws Exception;
    }

    /** The address a test is about, and the FaultDetected events of its allocator. */
    private record Faults(long address, List<RecordedEvent> events) {}

    /** Runs {@code work} on a hardened allocator named {@code name} under a recording of FaultDetected events. */
    private Faults faultsWhile(String name, Work work) throws Exception {
        Path file = dir.resolve(name + ".jfr");
        long address;
        try (Recording recording = new Recording()) {
            recording.enable("io.memalloc.FaultDetected").withoutThreshold();
            recording.start();
            try (MemAlloc alloc = MemAlloc.builder().name(name).regionSize(REGION).hardened(true).build()) {
                address = work.run(alloc);
            }
            recording.stop();
            recording.dump(file);
        }
        return new Faults(address, RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals("io.memalloc.FaultDetected")
                        && name.equals(e.getString("allocator")))
                .toList());
    }

    @Test
    void statsCountQuarantinedBlocksAsFreedAndTrimGivesThemBack() {
        try (MemAlloc alloc = hardened()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                blocks.add(alloc.allocate(200, 8));
            }
            for (MemorySegment block : blocks) {
                alloc.free(block);
            }
            AllocatorStats stats = alloc.stats();
            assertThat(stats.liveAllocations()).isZero();
            assertThat(stats.allocatedBytes()).isZero();
            assertThat(stats.freeCount()).isEqualTo(100);
            assertThat(stats.regionCount()).isPositive(); // held by the quarantine
            assertThat(alloc.trim()).isPositive();
            assertThat(alloc.stats().regionCount()).isZero();
            assertThat(alloc.stats().freeCount()).isEqualTo(100);
            alloc.verifyHeap();
        }
    }

    @Test
    void recycledMemoryIsZeroedDespiteThePoison() {
        try (MemAlloc alloc = hardened()) {
            for (int round = 0; round < 3; round++) {
                List<MemorySegment> blocks = new ArrayList<>();
                for (int i = 0; i < 1500; i++) { // more than the quarantine holds, so blocks come back
                    MemorySegment block = alloc.allocate(24 + i % 5 * 8, 8);
                    assertThat(Contents.firstMismatch(block, 0)).as("round %d block %d", round, i).isEqualTo(-1);
                    block.fill((byte) 0x55);
                    blocks.add(block);
                }
                for (MemorySegment block : blocks) {
                    alloc.free(block);
                }
            }
            alloc.verifyHeap();
        }
    }
}
