package io.memalloc.internal.os;

/**
 * The numbers that differ between the POSIX systems MemAlloc runs on.
 *
 * <p>Linux and macOS agree on {@code PROT_*} and {@code MAP_PRIVATE} but not on {@code MAP_ANONYMOUS}
 * (Linux 0x20, macOS 0x1000), nor on the {@code sysconf} name of the page size. For giving pages back, Linux uses
 * {@code MADV_DONTNEED} (the pages read as zero afterwards and leave the RSS at once); macOS's
 * {@code MADV_DONTNEED} does not release pages, so there {@code MADV_FREE} is used.
 *
 * @param system           a name for messages
 * @param mapAnonymous     {@code MAP_ANONYMOUS}
 * @param purgeAdvice      the {@code madvise} advice that gives pages back
 * @param scPageSize       the {@code sysconf} name {@code _SC_PAGESIZE}
 */
public record PosixConstants(String system, int mapAnonymous, int purgeAdvice, int scPageSize) {
    public static final int PROT_NONE = 0x0;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_PRIVATE = 0x02;

    public static final PosixConstants LINUX = new PosixConstants("Linux", 0x20, 4, 30);
    public static final PosixConstants MACOS = new PosixConstants("macOS", 0x1000, 5, 29);
}
