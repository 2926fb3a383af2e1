package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.memalloc.internal.heap.HeapConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The memalloc.* system properties of the global allocator, read from a map as they would be from the JVM's. */
class GlobalPropertiesTest {

    private static GlobalProperties read(Map<String, String> properties) {
        return GlobalProperties.read(properties::get);
    }

    @Test
    void withNoPropertiesTheGlobalShapeIsTheDefault() {
        GlobalProperties read = read(Map.of());
        assertThat(read.heapConfig()).isEqualTo(HeapConfig.global());
        assertThat(read.managementBean()).isTrue();
    }

    @Test
    void everyPropertyIsRead() {
        GlobalProperties read = read(Map.of(
                "memalloc.regionSize", "1m",
                "memalloc.stripes", "8",
                "memalloc.maxMappedBytes", "2GiB",
                "memalloc.cachedRegions", "5",
                "memalloc.spareMappings", "0",
                "memalloc.managementBean", " FALSE ",
                "memalloc.leakSites", "true",
                "memalloc.guardPages", "true"));
        assertThat(read.heapConfig()).isEqualTo(new HeapConfig("global", 1 << 20, 8, 2L << 30, 5, 0, false, true));
        assertThat(read.managementBean()).isFalse();
        assertThat(read.leakSites()).isTrue();
        assertThat(read(Map.of()).leakSites()).isFalse();
    }

    @Test
    void aHardenedGlobalHeapHasNoSpares() {
        GlobalProperties read = read(Map.of("memalloc.hardened", "true", "memalloc.spareMappings", "8"));
        assertThat(read.heapConfig().hardened()).isTrue();
        assertThat(read.heapConfig().spareMappings()).isZero();
    }

    @ParameterizedTest
    @CsvSource({"0, 0", "4096, 4096", "64k, 65536", "64K, 65536", "64KiB, 65536", "64kb, 65536", "3m, 3145728",
            "1g, 1073741824", "2t, 2199023255552", "7b, 7", "8388607t, 9223370937343148032"})
    void sizesTakeASuffixInPowersOf1024(String text, long bytes) {
        assertThat(GlobalProperties.parseSize(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @CsvSource({"''", "k", "-1", "1.5m", "1x", "m1", "8388608t", "99999999999999999999", "1 m", "+1"})
    void anythingElseIsNoSize(String text) {
        assertThat(GlobalProperties.parseSize(text)).isEqualTo(-1);
    }

    @ParameterizedTest
    @CsvSource({
        "regionSize, 3m, a power of two from 64k to 256m",
        "regionSize, 32k, a power of two from 64k to 256m",
        "regionSize, 512m, a power of two from 64k to 256m",
        "regionSize, big, a power of two from 64k to 256m",
        "stripes, 3, a power of two from 1 to 1024",
        "stripes, 0, a power of two from 1 to 1024",
        "stripes, 2048, a power of two from 1 to 1024",
        "stripes, 4k, a power of two from 1 to 1024",
        "maxMappedBytes, 0, 'a size above 0, such as 512m'",
        "maxMappedBytes, -5, 'a size above 0, such as 512m'",
        "cachedRegions, -1, a whole number from 0 to 2147483647",
        "cachedRegions, 3000000000, a whole number from 0 to 2147483647",
        "spareMappings, many, a whole number from 0 to 2147483647",
        "managementBean, 1, true or false",
        "hardened, on, true or false",
        "leakSites, 1, true or false",
        "guardPages, yes, true or false"})
    void aBadValueIsRefusedNamingThePropertyAndWhatItMayBe(String property, String value, String what) {
        assertThatThrownBy(() -> read(Map.of("memalloc." + property, value)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("system property memalloc." + property + "=" + value + " is refused: it must be " + what);
    }

    @Test
    void aPropertyOfOursMisspelledIsNamedWithTheNearestRealOne() {
        assertThat(GlobalProperties.unknown(Set.of("memalloc.regionsize", "memalloc.hardend", "memalloc.stripes",
                "java.home", "memallocTests.soakSeconds", "memalloc.")))
                .satisfiesExactly(
                        w -> assertThat(w).startsWith("system property memalloc. is not a MemAlloc setting"),
                        w -> assertThat(w).startsWith("system property memalloc.hardend is not a MemAlloc setting,"
                                + " and changes nothing; did you mean memalloc.hardened? The settings are"
                                + " memalloc.regionSize, memalloc.stripes, "),
                        w -> assertThat(w).startsWith("system property memalloc.regionsize is not a MemAlloc setting,"
                                + " and changes nothing; did you mean memalloc.regionSize?"));
        assertThat(GlobalProperties.unknown(Set.of("memalloc.regionSize", "memalloc.guardPages"))).isEmpty();
    }

    @Test
    void theGlobalAllocatorWarnsOfAMisspelledPropertyWhenItIsMade() throws Exception {
        ChildJvm.Outcome outcome = ChildJvm.run(GlobalAllocatorScenario.class,
                List.of("-Dmemalloc.regionsize=1m"), Duration.ofSeconds(60));
        assertThat(outcome.exitCode()).as(outcome.output()).isZero();
        assertThat(outcome.output()).contains("WARNING: system property memalloc.regionsize is not a MemAlloc setting,"
                + " and changes nothing; did you mean memalloc.regionSize?", "mappedBytes 4194304"); // not 1m: ignored
    }
}
