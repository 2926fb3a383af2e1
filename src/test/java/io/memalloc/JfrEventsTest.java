package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import io.memalloc.internal.event.AllocationFailedEvent;
import io.memalloc.internal.event.ArenaClosedEvent;
import io.memalloc.internal.event.FaultDetectedEvent;
import io.memalloc.internal.event.LeakDetectedEvent;
import io.memalloc.internal.event.RegionMappedEvent;
import io.memalloc.internal.event.RegionUnmappedEvent;
import io.memalloc.internal.event.TrimEvent;
import jdk.jfr.Event;
import jdk.jfr.EventType;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Every MemAlloc event, recorded while a workload runs, read back from the file, with its fields. */
class JfrEventsTest {
    private static final long REGION = 64 * 1024;
    private static final List<String> EVENTS = List.of("RegionMapped", "RegionUnmapped", "Trim", "ArenaClosed",
            "AllocationFailed", "FaultDetected", "LeakDetected");

    @RegisterExtension
    final LogCapture log = new LogCapture();

    @TempDir
    Path dir;

    @Test
    void eachEventIsRecordedWithItsFields() throws Exception {
        Path file = dir.resolve("memalloc.jfr");
        long largeAddress;
        long leakedBytes = 40;
        try (Recording recording = new Recording()) {
            for (String name : EVENTS) {
                recording.enable("io.memalloc." + name).withoutThreshold().withStackTrace();
            }
            recording.start();

            MemAlloc alloc = MemAlloc.builder().name("jfr-test").regionSize(REGION).stripes(1).cachedRegions(1)
                    .maxMappedBytes(8 * REGION).build();
            MemorySegment small = alloc.allocate(100, 8);            // maps a region of stripe 0
            MemorySegment large = alloc.allocate(REGION, 8);         // a mapping of its own
            largeAddress = large.address();
            alloc.free(large);                                       // unmapped: no spares on a private heap
            alloc.free(small);                                       // the region empties, and is cached
            assertThatThrownBy(() -> alloc.free(small)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.reallocate(MemorySegment.ofArray(new byte[8]), 16))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> alloc.allocate(64 * REGION, 8)).isInstanceOf(OutOfMemoryError.class);
            try (Arena arena = alloc.newConfinedArena()) {
                arena.allocate(100, 8);
                arena.allocate(200, 64);
            }
            try (Arena arena = alloc.newSharedArena()) {
                arena.allocate(1000, 8);
            }
            assertThat(alloc.trim()).isGreaterThanOrEqualTo(REGION);
            alloc.allocate(leakedBytes, 8);                          // never freed
            alloc.close();

            recording.stop();
            recording.dump(file);
        }

        Map<String, List<RecordedEvent>> byName = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().startsWith("io.memalloc."))
                .filter(e -> "jfr-test".equals(e.getString("allocator")))
                .collect(Collectors.groupingBy(e -> e.getEventType().getName().substring("io.memalloc.".length())));
        assertThat(byName.keySet()).containsExactlyInAnyOrderElementsOf(EVENTS);

        assertThat(byName.get("RegionMapped")).anySatisfy(e -> {
            assertThat(e.getLong("size")).isEqualTo(REGION);
            assertThat(e.getInt("stripe")).isZero();
            assertThat(e.getLong("address") % REGION).isZero();
        }).anySatisfy(e -> {
            assertThat(e.getLong("address")).isEqualTo(largeAddress);
            assertThat(e.getLong("size")).isGreaterThanOrEqualTo(REGION);
            assertThat(e.getInt("stripe")).isEqualTo(-1);
        });
        assertThat(byName.get("RegionUnmapped")).anySatisfy(e -> {
            assertThat(e.getLong("address")).isEqualTo(largeAddress);
            assertThat(e.getInt("stripe")).isEqualTo(-1);
        }).anySatisfy(e -> {
            assertThat(e.getLong("size")).isEqualTo(REGION);
            assertThat(e.getInt("stripe")).isZero();
        });
        assertThat(byName.get("Trim")).singleElement()
                .satisfies(e -> assertThat(e.getLong("bytesGivenBack")).isGreaterThanOrEqualTo(REGION));
        assertThat(byName.get("ArenaClosed")).hasSize(2).anySatisfy(e -> {
            assertThat(e.getString("kind")).isEqualTo("confined");
            assertThat(e.getLong("allocatedBytes")).isBetween(300L, 400L);
            assertThat(e.getInt("chunks")).isEqualTo(1);
            assertThat(e.getDuration()).isPositive();
        }).anySatisfy(e -> {
            assertThat(e.getString("kind")).isEqualTo("shared");
            assertThat(e.getLong("allocatedBytes")).isEqualTo(1000);
        });
        assertThat(byName.get("AllocationFailed")).singleElement().satisfies(e -> {
            assertThat(e.getLong("size")).isEqualTo(64 * REGION);
            assertThat(e.getString("reason")).contains("maxMappedBytes");
        });
        assertThat(byName.get("FaultDetected")).hasSize(2).anySatisfy(e -> {
            assertThat(e.getString("operation")).isEqualTo("free");
            assertThat(e.getString("fault")).contains("is not the start of a live block");
            assertThat(e.getStackTrace().getFrames()).anySatisfy(frame -> assertThat(frame.getMethod().getName())
                    .isEqualTo("eachEventIsRecordedWithItsFields"));
        }).anySatisfy(e -> {
            assertThat(e.getString("operation")).isEqualTo("reallocate");
            assertThat(e.getString("fault")).contains("heap segment");
        });
        assertThat(byName.get("LeakDetected")).singleElement().satisfies(e -> {
            assertThat(e.getLong("liveBlocks")).isEqualTo(1);
            assertThat(e.getLong("liveBytes")).isEqualTo(leakedBytes);
            assertThat(e.getString("what")).contains("jfr-test", "1 blocks never freed");
        });
        assertThat(log.take()).as("the warning, which says what the event says")
                .containsExactly("WARNING: " + byName.get("LeakDetected").get(0).getString("what"));
    }

    @Test
    void everyEventIsInTheMemAllocCategoryWithALabelAndADescription() {
        List<Class<? extends Event>> classes = List.of(RegionMappedEvent.class, RegionUnmappedEvent.class,
                TrimEvent.class, ArenaClosedEvent.class, AllocationFailedEvent.class, FaultDetectedEvent.class,
                LeakDetectedEvent.class);
        List<EventType> types = classes.stream().map(EventType::getEventType).toList();
        assertThat(types).extracting(EventType::getName)
                .containsExactlyElementsOf(EVENTS.stream().map(name -> "io.memalloc." + name).toList());
        assertThat(types).allSatisfy(type -> {
            assertThat(type.getCategoryNames()).containsExactly("MemAlloc");
            assertThat(type.getLabel()).isNotBlank();
            assertThat(type.getDescription()).isNotBlank();
            assertThat(type.getField("allocator")).isNotNull();
        });
    }
}
