package io.memalloc.samples;

import io.memalloc.MemAlloc;
import io.memalloc.MemArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import jdk.jfr.Recording;
import jdk.jfr.ValueDescriptor;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/**
 * What MemAlloc shows to the tools a Java team already runs: a workload under a JFR recording, then the MemAlloc
 * events read back from it, the heap map, and the attributes of the allocator's management bean (what JConsole
 * shows under io.memalloc).
 */
public final class Observe {
    private Observe() {}

    public static void main(String[] args) throws Exception {
        Path file = Files.createTempFile("memalloc-observe", ".jfr");
        try (Recording recording = new Recording()) {
            for (String event : List.of("RegionMapped", "RegionUnmapped", "Trim", "ArenaClosed",
                    "AllocationFailed", "FaultDetected", "LeakDetected")) {
                recording.enable("io.memalloc." + event).withoutThreshold();
            }
            recording.start();
            System.out.println("recording the io.memalloc events while a workload runs (a warning about a leak is"
                    + " logged through System.Logger at close: the workload leaves blocks live on purpose)");
            try (MemAlloc alloc = MemAlloc.builder().name("observed").regionSize(256 * 1024).maxMappedBytes(4 << 20)
                    .managementBean(true).build()) {
                workload(alloc);
                printHeapMapAndBean(alloc);
                alloc.trim();
            }
            recording.stop();
            recording.dump(file);
        }
        printEvents(file);
        Files.delete(file);
    }

    /** Arenas, blocks, a large block, a mistake and a request over the cap: something for every event. */
    private static void workload(MemAlloc alloc) {
        for (int i = 0; i < 3; i++) {
            try (Arena arena = alloc.newConfinedArena()) {
                for (int j = 0; j < 100 * (i + 1); j++) {
                    arena.allocate(64, 8);
                }
            }
        }
        MemorySegment[] blocks = new MemorySegment[200];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = alloc.allocate(1000 + i * 10L, 16);
        }
        MemorySegment large = alloc.allocate(300 * 1024, 64);
        alloc.free(large);
        alloc.free(blocks[0]);
        try {
            alloc.free(blocks[0]);
        } catch (IllegalArgumentException expected) {
            System.out.println("a double free is refused: " + expected.getMessage());
        }
        try {
            alloc.allocate(16 << 20, 16);
        } catch (OutOfMemoryError expected) {
            System.out.println("a request over maxMappedBytes fails: " + expected.getMessage());
        }
        for (int i = 1; i < blocks.length; i += 2) {
            alloc.free(blocks[i]);
        }
        // blocks 2, 4, 6, ... are left live, and reported as a leak at close
        try (MemArena arena = MemArena.ofConfined()) {
            arena.allocateFrom("the global allocator's arenas are recorded too");
        }
    }

    private static void printHeapMapAndBean(MemAlloc alloc) throws Exception {
        System.out.println();
        System.out.println("heap map:");
        System.out.print(alloc.heapMap().lines().limit(8).map(line -> "  " + line + "\n")
                .collect(Collectors.joining()));
        System.out.println("  ...");
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = new ObjectName("io.memalloc:type=MemAlloc,name=" + alloc.name());
        System.out.println();
        System.out.println("management bean " + name + ":");
        for (MBeanAttributeInfo attribute : server.getMBeanInfo(name).getAttributes()) {
            System.out.printf("  %-18s %s%n", attribute.getName(), server.getAttribute(name, attribute.getName()));
        }
    }

    private static void printEvents(Path file) throws Exception {
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().startsWith("io.memalloc."))
                .toList();
        Map<String, Long> counts = new TreeMap<>(events.stream()
                .collect(Collectors.groupingBy(e -> e.getEventType().getName(), Collectors.counting())));
        System.out.println();
        System.out.println("JFR events recorded (category MemAlloc):");
        counts.forEach((type, count) -> System.out.printf("  %-28s %d%n", type, count));
        System.out.println();
        System.out.println("the first of each:");
        Map<String, RecordedEvent> first = new TreeMap<>();
        for (RecordedEvent e : events) {
            first.putIfAbsent(e.getEventType().getName(), e);
        }
        for (RecordedEvent e : first.values()) {
            StringBuilder fields = new StringBuilder();
            for (ValueDescriptor field : e.getEventType().getFields()) {
                if (field.getName().equals("stackTrace") || field.getName().equals("eventThread")
                        || field.getName().equals("startTime")) {
                    continue;
                }
                Object value = field.getName().equals("duration")
                        ? String.format("%.1fus", e.getDuration().toNanos() / 1000.0) : e.getValue(field.getName());
                fields.append(' ').append(field.getName()).append('=')
                        .append(field.getContentType() != null && field.getContentType().endsWith("MemoryAddress")
                                ? "0x" + Long.toHexString((Long) value) : value);
            }
            System.out.printf("  %s%s%n", e.getEventType().getName(), fields);
        }
    }
}
