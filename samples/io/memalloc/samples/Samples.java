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
            "snippets", Samples::snippets));

    private Samples() {}

    private static void snippets(String[] args) {
        try {
            JavadocSnippets.main(args);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static void main(String[] args) throws Exception {
        String name = args.length == 0 ? "list" : args[0];
        Consumer<String[]> sample = SAMPLES.get(name);
        if (sample == null) {
            System.out.println((name.equals("list") ? "" : "no sample named '" + name + "'. ")
                    + "Samples: " + String.join(", ", SAMPLES.keySet()) + ". Run one with ./sample NAME");
            if (!name.equals("list")) {
                System.exit(2);
            }
            return;
        }
        sample.accept(new String[0]);
    }
}
