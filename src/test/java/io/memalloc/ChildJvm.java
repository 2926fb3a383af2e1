package io.memalloc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a {@code main} of the test classes in a JVM of its own: for a scenario that could take the JVM down, so that a
 * crash fails one test instead of the whole run. The child gets the library and the test classes on its class path
 * (from {@code memallocTests.classpath}, which the build sets), native access, and the test JVM's Java; its output
 * and errors come back as one string, never on the console.
 */
final class ChildJvm {
    /** How a child ended: its exit code (a JVM killed by a signal exits 128 + the signal) and what it printed. */
    record Outcome(int exitCode, String output) {}

    private ChildJvm() {}

    /**
     * Runs {@code main} with {@code args} and waits for it at most {@code timeout}; a child still running then is
     * killed.
     *
     * @throws AssertionError when the child did not end in time
     */
    static Outcome run(Class<?> main, Duration timeout, String... args) throws IOException, InterruptedException {
        return run(main, List.of(), timeout, args);
    }

    /** As {@link #run(Class, Duration, String...)}, with {@code jvmOptions} (system properties, say) for the child. */
    static Outcome run(Class<?> main, List<String> jvmOptions, Duration timeout, String... args)
            throws IOException, InterruptedException {
        String classPath = System.getProperty("memallocTests.classpath");
        if (classPath == null) {
            throw new IllegalStateException("memallocTests.classpath is not set: run the tests through ./build");
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:-CreateCoredumpOnCrash",
                "-XX:ErrorFile=" + Path.of(System.getProperty("java.io.tmpdir"), "memalloc-child-hs_err_%p.log")));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", classPath, main.getName()));
        command.addAll(List.of(args));
        // In the temporary folder: a JVM that crashes under a JFR recording leaves its dump in its working folder.
        Process child = new ProcessBuilder(command).directory(Path.of(System.getProperty("java.io.tmpdir")).toFile())
                .redirectErrorStream(true).start();
        // Read while it runs: a child that fills the pipe would otherwise block.
        var output = new StringBuilder();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try {
                output.append(new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                output.append("(reading the child's output failed: ").append(e).append(')');
            }
        });
        if (!child.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            child.destroyForcibly().waitFor();
            reader.join();
            throw new AssertionError(main.getSimpleName() + " did not end within " + timeout + "; it printed:\n"
                    + output);
        }
        reader.join();
        return new Outcome(child.exitValue(), output.toString());
    }
}
