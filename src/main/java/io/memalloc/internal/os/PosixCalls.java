package io.memalloc.internal.os;

/**
 * The libc functions {@link PosixMemory} calls, one method each, in the style of raw Linux system calls: a failure
 * returns minus {@code errno} instead of setting a global.
 *
 * <p>{@link PosixDowncalls} makes the real calls; tests give a fake that records them or fails on purpose.
 */
public interface PosixCalls {

    /** {@code mmap(address, length, prot, flags, -1, 0)}: the mapped address, or minus errno. */
    long mmap(long address, long length, int prot, int flags);

    /** {@code munmap(address, length)}: 0, or minus errno. */
    int munmap(long address, long length);

    /** {@code mprotect(address, length, prot)}: 0, or minus errno. */
    int mprotect(long address, long length, int prot);

    /** {@code madvise(address, length, advice)}: 0, or minus errno. */
    int madvise(long address, long length, int advice);

    /** {@code sysconf(name)}: the value, or minus errno. */
    long sysconf(int name);
}
