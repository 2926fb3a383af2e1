package io.memalloc.samples;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/** Runs one sample by name: {@code ./sample basic}. With no name, or {@code list}, says which there are. */
public final class Samples {
    private static final Map<String, Consumer<String[]>> SAMPLES = new TreeMap<>(Map.of(
            "arenas", Arenas::main,
            "basic", Basic::main,
            "global", Global::main,
            "interop", Interop::main,
            "observe", Samples::observe,
            "snippets", Samples::snippets,
            "threads", Samples::threads));

    private Samples() {}

    private static void observe(String[] args) {
        run(() -> Observe.main(args));
    }

    private static void snippets(String[] args) {
        run(() -> JavadocSnippets.main(args));
    }

    private static void threads(String[] args) {
        run(() -> Threads.main(args));
    }

    /** A sample whose main may throw a checked exception. */
    private interface Sample {
        void run() throws Exception;
    }

    private static void run(Sample sample) {
        try {
            sample.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static void main(String[] args) throws Exception {
        String name = args.length == 0 ? "list" : args[0];
        if (name.equals("all")) { // what CI runs, so that no sample rots
            for (Map.Entry<String, Consumer<String[]>> sample : SAMPLES.entrySet()) {
                System.out.println("== ./sample " + sample.getKey());
                sample.getValue().accept(new String[0]);
                System.out.println();
            }
            return;
        }
        Consumer<String[]> sample = SAMPLES.get(name);
        if (sample == null) {
            System.out.println((name.equals("list") ? "" : "no sample named '" + name + "'. ")
                    + "Samples: " + String.join(", ", SAMPLES.keySet()) + ". Run one with ./sample NAME, or all of them"
                    + " with ./sample all");
            if (!name.equals("list")) {
                System.exit(2);
            }
            return;
        }
        sample.accept(new String[0]);
    }
}
