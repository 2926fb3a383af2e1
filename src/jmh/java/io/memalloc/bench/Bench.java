package io.memalloc.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the suite: {@code ./bench MODE [REGEX...]} from the repository root.
 *
 * <table>
 *   <caption>Modes</caption>
 *   <tr><th>mode</th><th>what it does</th></tr>
 *   <tr><td>smoke</td><td>one short iteration of every benchmark, with small parameters: CI runs it so that none
 *       of them rots</td></tr>
 *   <tr><td>quick</td><td>one fork, 2 x 0.25 s warm-up and 3 x 0.25 s measured: about 5 minutes on 2 cores</td></tr>
 *   <tr><td>full</td><td>two forks, 1 s iterations (about 40 minutes): what {@code module-info-docs/performance.md}
 *       quotes</td></tr>
 *   <tr><td>chart</td><td>draws the chart and the table from the last run's JSON ({@link Chart})</td></tr>
 * </table>
 *
 * <p>After MODE come JMH's own options: REGEX narrows the run to the benchmarks it matches, {@code -p name=v1,v2}
 * sets a parameter, {@code -prof gc} adds a profiler; {@code -f}, {@code -i}, {@code -wi}, {@code -r} and
 * {@code -w} win over the mode's. Results go to
 * {@code target/jmh-result.json}. A benchmark of jemalloc or mimalloc (a method whose name starts with the
 * library's) is left out, with a message, when the library cannot be loaded here.
 */
public final class Bench {
    static final Path RESULT = Path.of("target", "jmh-result.json");

    private Bench() {}

    public static void main(String[] args) throws CommandLineOptionException, RunnerException, IOException {
        String mode = args.length == 0 ? "quick" : args[0];
        if (mode.equals("chart")) {
            Chart.main(new String[] {RESULT.toString()});
            return;
        }
        CommandLineOptions cli = new CommandLineOptions(Arrays.copyOfRange(args, Math.min(1, args.length), args.length));
        ChainedOptionsBuilder options = new OptionsBuilder().parent(cli)
                .jvmArgsAppend(jvmArgs())
                .shouldFailOnError(true)
                .resultFormat(ResultFormatType.JSON)
                .result(RESULT.toString());
        Preset preset = switch (mode) {
            case "smoke" -> new Preset(1, 0, TimeValue.milliseconds(100), 1, TimeValue.milliseconds(100));
            // About 140 forks of about 0.75 s each (a JVM, JMH's setup): 0.25 s iterations keep quick near 5 minutes.
            case "quick" -> new Preset(1, 2, TimeValue.milliseconds(250), 3, TimeValue.milliseconds(250));
            case "full" -> new Preset(2, 2, TimeValue.seconds(1), 3, TimeValue.seconds(1));
            default -> throw new IllegalArgumentException(
                    "bench: unknown mode '" + mode + "'; use smoke, quick, full or chart");
        };
        preset.applyUnlessGiven(cli, options);
        if (mode.equals("smoke") && !cli.getParameter("footprintLiveBlocks").hasValue()) {
            options.param("footprintLiveBlocks", "1000").param("footprintReplacements", "10000");
        }
        for (NativeHeap.Library library : NativeHeap.Library.values()) {
            library.unavailable().ifPresent(why -> {
                System.out.println("bench: skipping " + library + ": " + why);
                options.exclude(".*\\." + library.methodPrefix() + ".*");
            });
        }
        Files.createDirectories(RESULT.getParent());
        new Runner(options.build()).run();
    }

    /** A mode's forks and iterations; an option given on the command line wins over it. */
    private record Preset(int forks, int warmups, TimeValue warmupTime, int iterations, TimeValue iterationTime) {
        void applyUnlessGiven(CommandLineOptions cli, ChainedOptionsBuilder options) {
            if (!cli.getForkCount().hasValue()) {
                options.forks(forks);
            }
            if (!cli.getWarmupIterations().hasValue()) {
                options.warmupIterations(warmups);
            }
            if (!cli.getWarmupTime().hasValue()) {
                options.warmupTime(warmupTime);
            }
            if (!cli.getMeasurementIterations().hasValue()) {
                options.measurementIterations(iterations);
            }
            if (!cli.getMeasurementTime().hasValue()) {
                options.measurementTime(iterationTime);
            }
        }
    }

    /** No warning in a forked JVM: native access for the class path, and JMH's Unsafe on JDK 23+. */
    private static String[] jvmArgs() {
        List<String> args = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED", "-Xmx2g"));
        if (Runtime.version().feature() >= 23) {
            args.add("--sun-misc-unsafe-memory-access=allow");
        }
        return args.toArray(String[]::new);
    }
}
