package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** The management beans, read as JConsole would: through the platform MBean server. */
class ManagementBeanTest {
    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();

    @Test
    void theGlobalAllocatorsBeanIsRegisteredOnFirstUse() throws Exception {
        MemAlloc global = MemAlloc.global();
        ObjectName name = new ObjectName("io.memalloc:type=MemAlloc,name=global");
        assertThat(server.isRegistered(name)).isTrue();
        assertThat(server.getAttribute(name, "Name")).isEqualTo("global");
        MemorySegment block = global.allocate(5000, 8);
        try {
            assertThat((Long) server.getAttribute(name, "AllocatedBytes")).isGreaterThanOrEqualTo(5000);
            assertThat((Long) server.getAttribute(name, "MappedBytes")).isPositive();
        } finally {
            global.free(block);
        }
    }

    @Test
    void aPrivateAllocatorsBeanShowsItsStatsAndTrimsUntilItCloses() throws Exception {
        ObjectName name = new ObjectName("io.memalloc:type=MemAlloc,name=jmx-test");
        try (MemAlloc alloc = MemAlloc.builder().name("jmx-test").managementBean(true).regionSize(64 * 1024)
                .cachedRegions(4).build()) {
            MemAllocMXBean bean = JMX.newMXBeanProxy(server, name, MemAllocMXBean.class);
            MemorySegment a = alloc.allocate(1500, 8); // both above the small blocks: one region
            MemorySegment b = alloc.allocate(3000, 8);
            AllocatorStats stats = alloc.stats();
            assertThat(bean.getName()).isEqualTo("jmx-test");
            assertThat(bean.getAllocatedBytes()).isEqualTo(4500);
            assertThat(bean.getLiveAllocations()).isEqualTo(2);
            assertThat(bean.getAllocationCount()).isEqualTo(2);
            assertThat(bean.getMappedBytes()).isEqualTo(stats.mappedBytes());
            assertThat(bean.getRegionCount()).isEqualTo(1);
            assertThat(bean.getMapCount()).isEqualTo(1);
            assertThat(bean.heapMap()).contains("2 live blocks");
            alloc.free(a);
            alloc.free(b);
            assertThat(bean.getFreeCount()).isEqualTo(2);
            assertThat(bean.getEmptyRegionCount()).isEqualTo(1);
            assertThat(server.invoke(name, "trim", null, null)).isEqualTo(64L * 1024);
            assertThat(bean.getRegionCount()).isZero();
            assertThat(bean.getUnmapCount()).isEqualTo(1);
            assertThat(bean.getLargeBlockCount()).isZero();
            alloc.newConfinedArena().close(); // leaves its first chunk in the pool
            assertThat(bean.getArenaPoolBytes()).isEqualTo(16 * 1024);
            assertThat(bean.getLeakedArenas()).isZero();
            assertThat(bean.getAllocatedBytes()).isZero();
            assertThat(bean.getLiveAllocations()).isZero();
        }
        assertThat(server.isRegistered(name)).isFalse();
    }

    @Test
    void aPrivateAllocatorHasNoBeanUnlessAsked() throws Exception {
        try (MemAlloc alloc = MemAlloc.builder().name("no-bean").build()) {
            assertThat(alloc.name()).isEqualTo("no-bean");
            assertThat(server.isRegistered(new ObjectName("io.memalloc:type=MemAlloc,name=no-bean"))).isFalse();
        }
    }

    @Test
    void aSecondBeanOfTheSameNameIsRefusedAndTheFirstStays() throws Exception {
        try (MemAlloc first = MemAlloc.builder().name("twice").managementBean(true).build()) {
            assertThatThrownBy(() -> MemAlloc.builder().name("twice").managementBean(true).build())
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("registered already");
            assertThat(server.getAttribute(new ObjectName("io.memalloc:type=MemAlloc,name=twice"), "Name"))
                    .isEqualTo(first.name());
        }
    }

    @Test
    void privateAllocatorsGetDistinctNamesByDefaultAndBadNamesAreRefused() {
        try (MemAlloc a = MemAlloc.builder().build(); MemAlloc b = MemAlloc.builder().build()) {
            assertThat(a.name()).startsWith("private-");
            assertThat(b.name()).startsWith("private-").isNotEqualTo(a.name());
            assertThat(a.toString()).startsWith("MemAlloc[" + a.name() + ", ");
        }
        for (String bad : new String[] {"", "global", "a b", "a,b", "x=y", "é", "a".repeat(65)}) {
            assertThatThrownBy(() -> MemAlloc.builder().name(bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name '" + bad + "'");
        }
        assertThatThrownBy(() -> MemAlloc.builder().name(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
