package io.memalloc.internal.os;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The real {@link PosixCalls}: libc through {@link Linker} downcalls, errno captured by the linker.
 *
 * <p>Pointers and {@code size_t} are passed as {@code long}: MemAlloc runs on 64-bit platforms only, where both are
 * eight bytes and travel in the same registers; plain longs spare a segment per call.
 */
@SuppressWarnings("restricted") // one of the two classes that link native code; see module-info
final class PosixDowncalls implements PosixCalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(PathElement.groupElement("errno"));

    private final MethodHandle mmap;
    private final MethodHandle munmap;
    private final MethodHandle mprotect;
    private final MethodHandle madvise;
    private final MethodHandle sysconf;
    /** Where the linker stores errno after each call; one per thread, freed with the thread. */
    private final ThreadLocal<MemorySegment> errno = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    PosixDowncalls(PosixConstants constants) {
        if (ValueLayout.ADDRESS.byteSize() != 8) {
            throw new UnsupportedOperationException("MemAlloc needs a 64-bit JVM on " + constants.system());
        }
        Linker.Option captureErrno = Linker.Option.captureCallState("errno");
        mmap = link("mmap", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_LONG), captureErrno);
        munmap = link("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), captureErrno);
        mprotect = link("mprotect", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), captureErrno);
        madvise = link("madvise", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), captureErrno);
        sysconf = link("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT), captureErrno);
    }

    private static MethodHandle link(String name, FunctionDescriptor descriptor, Linker.Option option) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsupportedOperationException("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, option);
    }

    @Override
    public long mmap(long address, long length, int prot, int flags) {
        MemorySegment state = errno.get();
        long result;
        try {
            result = (long) mmap.invokeExact(state, address, length, prot, flags, -1, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mmap downcall failed", t);
        }
        return result == -1 ? -errnoOf(state) : result;
    }

    @Override
    public int munmap(long address, long length) {
        MemorySegment state = errno.get();
        int result;
        try {
            result = (int) munmap.invokeExact(state, address, length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap downcall failed", t);
        }
        return result == 0 ? 0 : -errnoOf(state);
    }

    @Override
    public int mprotect(long address, long length, int prot) {
        MemorySegment state = errno.get();
        int result;
        try {
            result = (int) mprotect.invokeExact(state, address, length, prot);
        } catch (Throwable t) {
            throw new IllegalStateException("mprotect downcall failed", t);
        }
        return result == 0 ? 0 : -errnoOf(state);
    }

    @Override
    public int madvise(long address, long length, int advice) {
        MemorySegment state = errno.get();
        int result;
        try {
            result = (int) madvise.invokeExact(state, address, length, advice);
        } catch (Throwable t) {
            throw new IllegalStateException("madvise downcall failed", t);
        }
        return result == 0 ? 0 : -errnoOf(state);
    }

    @Override
    public long sysconf(int name) {
        MemorySegment state = errno.get();
        long result;
        try {
            result = (long) sysconf.invokeExact(state, name);
        } catch (Throwable t) {
            throw new IllegalStateException("sysconf downcall failed", t);
        }
        return result == -1 ? -errnoOf(state) : result;
    }

    /** The errno a failed call left; at least 1, so that a failure never reads as a result. */
    private static int errnoOf(MemorySegment state) {
        return Math.max(1, (int) ERRNO.get(state, 0L));
    }
}
