package io.memalloc.internal.heap;

import static org.assertj.core.api.Assertions.assertThat;

import io.memalloc.internal.os.OsMemory;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The system's memory, recording what a test looks at: the mappings made and not yet unmapped, by address, and
 * every purge as {@code {address, byteSize}}. An unmap of anything but a whole live mapping fails the test.
 */
final class RecordingOsMemory implements OsMemory {
    private final OsMemory system = OsMemory.system();
    final Map<Long, Long> live = new ConcurrentHashMap<>();
    final List<long[]> purged = new CopyOnWriteArrayList<>();
    /** Run once, just before the next map: what another thread might do while the heap maps with no lock held. */
    volatile Runnable beforeNextMap;

    @Override
    public long pageSize() {
        return system.pageSize();
    }

    @Override
    public long granularity() {
        return system.granularity();
    }

    @Override
    public long map(long byteSize, long alignment) {
        Runnable before = beforeNextMap;
        beforeNextMap = null;
        if (before != null) {
            before.run();
        }
        long address = system.map(byteSize, alignment);
        live.put(address, byteSize);
        return address;
    }

    @Override
    public void unmap(long address, long byteSize) {
        assertThat(live.remove(address)).as("unmap of 0x%x", address).isEqualTo(byteSize);
        system.unmap(address, byteSize);
    }

    @Override
    public void protect(long address, long byteSize) {
        system.protect(address, byteSize);
    }

    @Override
    public void purge(long address, long byteSize) {
        purged.add(new long[] {address, byteSize});
        system.purge(address, byteSize);
    }
}
