package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.os.OsMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One page of small blocks on a real 64 KiB mapping, driven by the calling thread as its owner: the addresses it
 * hands out, the index of an address, local and remote frees and their collection, its consistency check, and
 * which blocks it says may hold old bytes. A page reads no native memory, so none of this touches the mapping but
 * the OS's bookkeeping.
 */
class PageTest {
    private static final OsMemory OS = OsMemory.system();

    private long base;
    private PageRegion region;
    private ThreadHeap owner;

    @BeforeEach
    void map() {
        base = OS.map(Page.SIZE, Page.SIZE);
        region = new PageRegion(null, base, Page.SIZE);
        owner = new ThreadHeap(Thread.currentThread());
    }

    @AfterEach
    void unmap() {
        region.removePages();
        OS.unmap(base, Page.SIZE);
    }

    static IntStream classes() {
        return IntStream.range(0, SizeClasses.COUNT);
    }

    @ParameterizedTest
    @MethodSource("classes")
    void allocateHandsOutDistinctIncreasingBlocksUntilThePageIsFullThenNone(int sizeClass) {
        Page page = region.carve(sizeClass, owner);
        int size = SizeClasses.size(sizeClass);
        assertThat(page.base).isEqualTo(base);
        assertThat(page.capacity).isEqualTo((int) (Page.SIZE / size));
        assertThat(page.isOwnedByCurrentThread()).isTrue();
        long previous = base - size;
        for (int i = 0; i < page.capacity; i++) {
            long block = page.allocateAny(size);
            if (block != previous + size) { // one assertion a block would be slow; a mismatch fails below
                assertThat(block).as("block %d", i).isEqualTo(previous + size);
            }
            previous = block;
        }
        assertThat(previous + size).as("the end of the last block").isLessThanOrEqualTo(base + Page.SIZE);
        assertThat(page.isFull()).isTrue();
        assertThat(page.used).isEqualTo(page.capacity);
        assertThat(page.allocateAny(1)).as("a full page").isZero();
        assertThat(page.allocateAny(size)).as("still full").isZero();
        assertThat(page.inconsistency()).isNull();
    }

    @ParameterizedTest
    @MethodSource("classes")
    void theIndexOfABlocksStartIsItsIndexAndOfAnyOtherAddressMinusOne(int sizeClass) {
        Page page = region.carve(sizeClass, owner);
        int size = SizeClasses.size(sizeClass);
        List<String> wrong = new ArrayList<>();
        for (long offset = 0; offset < Page.SIZE; offset++) {
            int expected = offset % size == 0 && offset / size < page.capacity ? (int) (offset / size) : -1;
            int index = page.indexOf(base + offset);
            if (index != expected && wrong.size() < 10) {
                wrong.add("offset " + offset + ": " + index + ", not " + expected);
            }
        }
        assertThat(wrong).isEmpty();
        // An address outside the page never gets to indexOf: the page map, which frees go through, gives another
        // page for it, or none.
        for (long outside : new long[] {-1, -size, -Page.SIZE, Page.SIZE, Page.SIZE + size, 2 * Page.SIZE,
            Long.MIN_VALUE / 2, Long.MAX_VALUE / 2}) {
            assertThat(PageMap.find(base + outside)).as("offset %d", outside).isNotSameAs(page);
        }
    }

    @Test
    void aLocalFreeOfAFreeBlockIsRefusedAndChangesNothing() {
        Page page = region.carve(SizeClasses.of(64), owner);
        long first = page.allocateAny(64);
        long second = page.allocateAny(50);
        assertThat(page.freeLocal(page.indexOf(first))).isTrue();

        assertThat(page.freeLocal(page.indexOf(first))).as("freed already").isFalse();
        assertThat(page.freeLocal(5)).as("never handed out").isFalse();
        assertThat(page.used).isEqualTo(1);
        assertThat(page.frees()).isEqualTo(1);
        assertThat(page.allocatedBytes).isEqualTo(50);
        assertThat(page.inconsistency()).isNull();
        assertThat(page.isLive(page.indexOf(second))).isTrue();
        assertThat(page.requested(page.indexOf(second))).isEqualTo(50);
        assertThat(page.allocateAny(64)).as("the freed block, once").isEqualTo(first);
        assertThat(page.allocateAny(64)).as("then the next one never handed out").isEqualTo(second + 64);
    }

    @Test
    void aBlockFreedRemotelyIsNotLiveCannotBeFreedAgainAndComesBackOnceCollected() {
        Page page = region.carve(SizeClasses.of(64), owner);
        List<Long> blocks = new ArrayList<>();
        while (!page.isFull()) {
            blocks.add(page.allocateAny(64));
        }
        // Across words of the bitmaps: the first block, one in the second word, the last.
        long[] freed = {blocks.get(3), blocks.get(70), blocks.getLast()};
        for (long block : freed) {
            page.freeRemote(page.indexOf(block), block);
        }
        for (long block : freed) {
            int index = page.indexOf(block);
            assertThat(page.isLive(index)).as("0x%x", block).isFalse();
            assertThatThrownBy(() -> page.freeRemote(index, block)).as("a second remote free")
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Long.toHexString(block));
            assertThat(page.freeLocal(index)).as("a local free of it").isFalse();
        }
        assertThat(page.used).as("not collected yet").isEqualTo(page.capacity);
        assertThat(page.allocateAny(64)).as("nothing to hand out before the collection").isZero();
        assertThat(page.inconsistency()).isNull();

        assertThat(page.collectRemote()).as("no race").isZero();

        assertThat(page.raced).isZero();
        assertThat(page.used).isEqualTo(page.capacity - freed.length);
        assertThat(page.inconsistency()).isNull();
        for (long block : freed) {
            assertThat(page.allocateAny(64)).isEqualTo(block);
            assertThat(page.isLive(page.indexOf(block))).isTrue();
        }
        assertThat(page.allocateAny(64)).isZero();
        assertThat(page.collectRemote()).as("a second collection finds nothing").isZero();
        assertThat(page.used).isEqualTo(page.capacity);
    }

    @Test
    void aRemoteFreeOfABlockTheOwnerFreedOrNeverHandedOutIsRefused() {
        Page page = region.carve(SizeClasses.of(32), owner);
        long block = page.allocateAny(32);
        page.freeLocal(page.indexOf(block));

        assertThatThrownBy(() -> page.freeRemote(page.indexOf(block), block))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> page.freeRemote(100, base + 100 * 32)).isInstanceOf(IllegalArgumentException.class);
        assertThat(page.inconsistency()).isNull();
        assertThat(page.collectRemote()).isZero();
        assertThat(page.used).isZero();
    }

    @Test
    void theFirstRemoteFreeSinceTheLastCollectionIsTheOneToTellTheOwner() {
        Page page = region.carve(SizeClasses.of(16), owner);
        long a = page.allocateAny(16);
        long b = page.allocateAny(16);
        page.freeRemote(page.indexOf(a), a);
        assertThat(page.claimTelling()).isTrue();
        page.freeRemote(page.indexOf(b), b);
        assertThat(page.claimTelling()).as("told already").isFalse();
        assertThat(page.isPending()).isTrue();
        page.clearPending();
        page.collectRemote();
        assertThat(page.isPending()).isFalse();
        assertThat(page.used).isZero();
    }

    @Test
    void aConsistentPageReportsNoInconsistencyWhateverItsFill() {
        Page page = region.carve(SizeClasses.of(1024), owner);
        assertThat(page.inconsistency()).as("fresh").isNull();
        List<Long> blocks = new ArrayList<>();
        while (!page.isFull()) {
            blocks.add(page.allocateAny(1000));
            assertThat(page.inconsistency()).as("%d blocks", blocks.size()).isNull();
        }
        for (int i = 0; i < blocks.size(); i += 2) {
            page.freeLocal(page.indexOf(blocks.get(i)));
        }
        for (int i = 1; i < blocks.size(); i += 4) {
            page.freeRemote(page.indexOf(blocks.get(i)), blocks.get(i));
        }
        assertThat(page.inconsistency()).as("half freed, a quarter freed remotely").isNull();
        page.collectRemote();
        assertThat(page.inconsistency()).as("collected").isNull();
        assertThat(page.used).isEqualTo(blocks.size() / 4);
    }

    @Test
    void freshBlocksAreCleanAndAFreedOneIsDirtyUntilTheOwnerSaysItZeroedIt() {
        Page page = region.carve(SizeClasses.of(128), owner);
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            blocks.add(page.allocateClean(128));
        }
        assertThat(blocks).as("fresh blocks are clean, lowest first").containsExactly(base, base + 128, base + 256,
                base + 384, base + 512);
        assertThat(page.dirtyWord()).as("nothing freed yet").isEqualTo(-1);
        page.freeLocal(page.indexOf(blocks.get(2)));
        page.freeLocal(page.indexOf(blocks.get(4)));

        assertThat(page.allocateClean(100)).as("a clean allocation skips the dirty blocks").isEqualTo(base + 640);
        assertThat(page.dirtyWord()).isZero();
        assertThat(page.dirtyBits(0)).isEqualTo((1L << 2) | (1L << 4));
        assertThat(page.allocateAny(100)).as("an uninitialized one takes a dirty block first")
                .isEqualTo(blocks.get(2));

        page.cleaned(0, 1L << 4);
        assertThat(page.dirtyWord()).isEqualTo(-1);
        assertThat(page.allocateClean(100)).as("the block said to be zeroed, lowest clean first")
                .isEqualTo(blocks.get(4));

        long remote = blocks.get(0);
        page.freeRemote(page.indexOf(remote), remote);
        page.collectRemote();
        assertThat(page.dirtyBits(0)).as("a block freed remotely comes back dirty").isEqualTo(1L);
        assertThat(page.allocateAny(128)).isEqualTo(remote);
        assertThat(page.inconsistency()).isNull();
    }

    @Test
    void anUninitializedAllocationTakesCleanBlocksOnceNoDirtyOneIsLeft() {
        Page page = region.carve(SizeClasses.of(1024), owner);
        long first = page.allocateAny(1024);
        assertThat(first).as("a fresh page has only clean blocks").isEqualTo(base);
        page.freeLocal(0);
        assertThat(page.allocateAny(1024)).isEqualTo(first);
        assertThat(page.allocateAny(1024)).isEqualTo(base + 1024);
    }

    @Test
    void aPageCarvedInASlotThatHeldOneHasEveryBlockDirty() {
        Page first = region.carve(SizeClasses.of(256), owner);
        first.allocateAny(256);
        first.freeLocal(0);
        region.release(first);

        Page again = region.carve(SizeClasses.of(48), owner);

        assertThat(again).isNotSameAs(first);
        assertThat(again.base).as("the same slot").isEqualTo(first.base);
        assertThat(again.allocateClean(48)).as("no block said to read as zero in a slot that held a page").isZero();
        assertThat(again.dirtyWord()).isZero();
        assertThat(again.dirtyBits(0)).isEqualTo(-1L);
        assertThat(again.allocateAny(48)).isEqualTo(base);
        assertThat(region.carve(0, owner)).as("the only slot is taken").isNull();
    }
}
