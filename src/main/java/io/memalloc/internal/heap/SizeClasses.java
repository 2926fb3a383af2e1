package io.memalloc.internal.heap;

/**
 * The sizes of small blocks: every request up to {@link #MAX_SIZE} bytes is served by a block of one of these sizes,
 * from a {@link Page} that holds blocks of that size only.
 *
 * <pre>
 *  class   0    1    2  ...   7  |   8    9   10   11 |  12   13   14   15 |  16   17   18    19
 *  size   16   32   48  ...  128 | 160  192  224  256 | 320  384  448  512 | 640  768  896  1024
 *         every 16 bytes          | four per doubling, as jemalloc's
 * </pre>
 *
 * <p>A request rounds up to the next class: at most 15 bytes are lost below 128 bytes, and less than a fifth of the
 * block above (129 bytes take 160), a tenth on average over sizes spread evenly. A block of class {@code c} starts at
 * a multiple of {@code size(c)} from its page's 64 KiB-aligned base, so its address is a multiple of the largest power
 * of two that divides {@code size(c)}: 16 at least, and a request with a larger alignment takes the first class
 * whose size it divides ({@link #of(long, long)}).
 */
final class SizeClasses {
    /** The largest small request. */
    static final long MAX_SIZE = 1024;
    /**
     * The largest alignment a small class serves: up to it, the first class whose size it divides is at most 128
     * bytes above the request (a 0-byte request included), so that a {@link Page} keeps a block's slack in a byte.
     */
    static final long MAX_ALIGNMENT = 128;
    static final int COUNT = 20;

    private static final int[] SIZES = {
        16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    };
    /** The class of a request of up to {@code 16 i} bytes at an alignment of at most 16. */
    private static final byte[] BY_GRANULES = new byte[(int) (MAX_SIZE >>> 4) + 1];

    static {
        int c = 0;
        for (int i = 0; i < BY_GRANULES.length; i++) {
            while (SIZES[c] < Math.max(1, i) << 4) {
                c++;
            }
            BY_GRANULES[i] = (byte) c;
        }
    }

    private SizeClasses() {
    }

    /** The class of a request of {@code byteSize} bytes (0 to {@link #MAX_SIZE}) at an alignment of at most 16. */
    static int of(long byteSize) {
        return BY_GRANULES[(int) ((byteSize + 15) >>> 4)];
    }

    /**
     * The class of a request of {@code byteSize} bytes at {@code alignment} (a power of two), or -1 when no small
     * class serves it: above {@link #MAX_SIZE}, or aligned above {@link #MAX_ALIGNMENT}.
     */
    static int of(long byteSize, long alignment) {
        if (byteSize > MAX_SIZE || alignment > MAX_ALIGNMENT) {
            return -1;
        }
        for (int c = of(byteSize); c < COUNT; c++) {
            if (SIZES[c] % alignment == 0) {
                return c;
            }
        }
        return -1;
    }

    /** The block size of class {@code c}. */
    static int size(int c) {
        return SIZES[c];
    }
}
