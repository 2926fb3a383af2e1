package io.memalloc;

import java.lang.management.ManagementFactory;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * A {@link MemAllocMXBean} over one allocator, and its registration in the platform MBean server.
 *
 * <p>Each getter reads {@link MemAlloc#stats()}: a bean is read by people and dashboards every few seconds, so
 * simplicity wins over the few microseconds of reading all the stripes per attribute.
 */
final class ManagementBean implements MemAllocMXBean {
    private static final System.Logger LOG = System.getLogger(MemAlloc.class.getName());

    private final MemAlloc alloc;

    private ManagementBean(MemAlloc alloc) {
        this.alloc = alloc;
    }

    /** The name a bean for the allocator called {@code name} is registered as. */
    static ObjectName objectName(String name) {
        try {
            return new ObjectName("io.memalloc:type=MemAlloc,name=" + name);
        } catch (JMException e) {
            throw new IllegalArgumentException("no management bean can be named after '" + name + "'", e);
        }
    }

    /**
     * Registers a bean for {@code alloc}.
     *
     * @param required whether a failure throws; else it is logged and null returned, so that {@code global()}
     *                 works without its bean
     * @return the name it was registered as, or null
     * @throws IllegalStateException when required and a bean of that name is registered already
     */
    static ObjectName register(MemAlloc alloc, boolean required) {
        ObjectName name = objectName(alloc.name());
        try {
            ManagementFactory.getPlatformMBeanServer().registerMBean(new ManagementBean(alloc), name);
            return name;
        } catch (JMException e) {
            if (required) {
                throw new IllegalStateException(e instanceof InstanceAlreadyExistsException
                        ? "a management bean named " + name + " is registered already; give this MemAlloc another"
                                + " name" : "cannot register a management bean as " + name, e);
            }
            LOG.log(System.Logger.Level.WARNING, "MemAlloc: cannot register the management bean " + name, e);
            return null;
        }
    }

    /** Unregisters what {@link #register} registered; nothing for null, or a bean someone else removed. */
    static void unregister(ObjectName name) {
        if (name == null) {
            return;
        }
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try {
            server.unregisterMBean(name);
        } catch (InstanceNotFoundException gone) {
            LOG.log(System.Logger.Level.DEBUG, "MemAlloc: the management bean " + name + " was unregistered by"
                    + " someone else");
        } catch (JMException e) {
            LOG.log(System.Logger.Level.WARNING, "MemAlloc: cannot unregister the management bean " + name, e);
        }
    }

    @Override
    public String getName() {
        return alloc.name();
    }

    @Override
    public long getMappedBytes() {
        return alloc.stats().mappedBytes();
    }

    @Override
    public long getAllocatedBytes() {
        return alloc.stats().allocatedBytes();
    }

    @Override
    public int getRegionCount() {
        return alloc.stats().regionCount();
    }

    @Override
    public int getEmptyRegionCount() {
        return alloc.stats().emptyRegionCount();
    }

    @Override
    public int getLargeBlockCount() {
        return alloc.stats().largeBlockCount();
    }

    @Override
    public long getLiveAllocations() {
        return alloc.stats().liveAllocations();
    }

    @Override
    public long getAllocationCount() {
        return alloc.stats().allocationCount();
    }

    @Override
    public long getFreeCount() {
        return alloc.stats().freeCount();
    }

    @Override
    public long getMapCount() {
        return alloc.stats().mapCount();
    }

    @Override
    public long getUnmapCount() {
        return alloc.stats().unmapCount();
    }

    @Override
    public long getArenaPoolBytes() {
        return alloc.stats().arenaPoolBytes();
    }

    @Override
    public long getLeakedArenas() {
        return alloc.stats().leakedArenas();
    }

    @Override
    public long trim() {
        return alloc.trim();
    }

    @Override
    public String heapMap() {
        return alloc.heapMap();
    }
}
