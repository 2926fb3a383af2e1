package io.memalloc.internal.os;

import java.util.Locale;

/**
 * Pages from the operating system: the only way MemAlloc gets or gives back memory.
 *
 * <p>Everything above this package sees mappings as plain {@code long} addresses. Implementations:
 * {@link PosixMemory} (Linux, macOS) and {@link WindowsMemory}; each talks to the OS through a small calls
 * interface ({@link PosixCalls}, {@link WindowsCalls}) so that tests can replace the downcalls with a fake that
 * records them, and inject faults.
 */
public interface OsMemory {

    /** The page size the OS reports. */
    long pageSize();

    /**
     * The unit of mapping sizes and addresses: the page size on POSIX systems, the 64 KiB allocation granularity
     * on Windows.
     */
    long granularity();

    /**
     * Maps {@code byteSize} bytes of zeroed, readable and writable memory at an address aligned to
     * {@code alignment}.
     *
     * @param byteSize  a positive multiple of {@link #granularity()}
     * @param alignment a power of two; at most {@code granularity()} costs nothing extra
     * @return the address of the mapping
     * @throws OutOfMemoryError when the OS refuses
     */
    long map(long byteSize, long alignment);

    /**
     * Gives back a whole mapping made by {@link #map}.
     *
     * @throws IllegalStateException when the OS refuses
     */
    void unmap(long address, long byteSize);

    /**
     * Makes the pages of {@code [address, address + byteSize)}, inside a mapping made by {@link #map}, a guard:
     * neither readable nor writable, so that the first access ends the process with a fault (SIGSEGV, an access
     * violation) rather than let it read or damage what lies beyond. Both bounds must be page aligned. The pages
     * stay reserved until the mapping is unmapped.
     *
     * @throws IllegalStateException when the OS refuses
     */
    void protect(long address, long byteSize);

    /**
     * Tells the OS that the pages of {@code [address, address + byteSize)} are no longer needed: the memory stays
     * mapped and usable, the OS may reclaim the physical pages, and their content becomes unspecified (zero on
     * Linux). Both bounds must be page aligned.
     *
     * @throws IllegalStateException when the OS refuses
     */
    void purge(long address, long byteSize);

    /**
     * The implementation for the operating system this JVM runs on.
     *
     * @throws UnsupportedOperationException on an operating system MemAlloc does not know
     */
    static OsMemory system() {
        if (SystemMemory.INSTANCE == null) {
            throw new UnsupportedOperationException(SystemMemory.FAILURE.getMessage(), SystemMemory.FAILURE);
        }
        return SystemMemory.INSTANCE;
    }

    /**
     * Holds the system's instance, created on first use; or why it could not be, so that every call of
     * {@link #system()} throws a clear exception rather than a bare {@code NoClassDefFoundError}.
     */
    final class SystemMemory {
        static final OsMemory INSTANCE;
        static final RuntimeException FAILURE;

        static {
            OsMemory instance = null;
            RuntimeException failure = null;
            try {
                instance = forOsName(System.getProperty("os.name", ""));
            } catch (RuntimeException e) {
                failure = e;
            }
            INSTANCE = instance;
            FAILURE = failure;
        }

        private SystemMemory() {}

        static OsMemory forOsName(String osName) {
            String os = osName.toLowerCase(Locale.ROOT);
            if (os.startsWith("linux")) {
                return new PosixMemory(new PosixDowncalls(PosixConstants.LINUX), PosixConstants.LINUX);
            }
            if (os.startsWith("mac")) {
                return new PosixMemory(new PosixDowncalls(PosixConstants.MACOS), PosixConstants.MACOS);
            }
            if (os.startsWith("windows")) {
                return new WindowsMemory(new WindowsDowncalls());
            }
            throw new UnsupportedOperationException(
                    "MemAlloc runs on Linux, macOS and Windows; this JVM reports os.name=" + osName);
        }
    }
}
