package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Javadoc's examples are regions of snippet files ({@code {@snippet file = "F" region = "R"}}), and javadoc
 * renders a region that is opened twice, never closed or empty without a word: MemArena's example once showed only
 * its last line. So the build checks them here: in every snippet file, each region is opened once, closed, and holds
 * at least one line of code (a line that is not blank and not only a comment); every region the sources name is in
 * the file they name.
 *
 * <p>The snippet files are those in the folders of javadoc's {@code --snippet-path} (read from the POM) and in any
 * {@code snippet-files} folder beside a package's sources, where javadoc looks first.
 */
class JavadocSnippetsTest {
    private static final Path BASE = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    private static final Path SOURCES = BASE.resolve("src/main/java");

    @Test
    void everyRegionOfEverySnippetFileIsOpenedOnceClosedAndHoldsCode() {
        List<Path> files = snippetFiles();
        assertThat(files).as("snippet files").isNotEmpty();
        List<String> problems = new ArrayList<>();
        for (Path file : files) {
            problems.addAll(Regions.of(BASE.relativize(file).toString(), read(file)).problems());
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void everyRegionTheSourcesNameIsInTheFileTheyName() {
        List<Reference> references = references();
        assertThat(references).as("{@snippet file=... region=...} tags in %s", SOURCES).isNotEmpty();
        List<String> problems = new ArrayList<>();
        for (Reference reference : references) {
            Optional<Path> file = resolve(reference);
            if (file.isEmpty()) {
                problems.add(reference + ": no snippet file " + reference.file() + " in " + snippetFolders(reference));
            } else if (reference.region() != null
                    && !Regions.of(reference.file(), read(file.get())).named().containsKey(reference.region())) {
                problems.add(reference + ": " + BASE.relativize(file.get()) + " has no region " + reference.region());
            }
        }
        assertThat(problems).isEmpty();
    }

    // The checks themselves, on small files.

    @Test
    void aWellFormedFileHasItsRegionsNestedOrNotAndNoProblem() {
        Regions regions = Regions.of("Ok.java", List.of(
                "class Ok {",
                "    // @start region=outer",
                "    void a() {",
                "        // @start region=\"inner\"",
                "        int x = 1; // @highlight region=h substring=x",
                "        x++;",
                "        // @end region=h",
                "        // @end",
                "    }",
                "    // @end region='outer'",
                "    int y; // @start region=oneLine @end",
                "}"));

        assertThat(regions.problems()).isEmpty();
        assertThat(regions.named()).containsOnlyKeys("outer", "inner", "h", "oneLine");
        assertThat(regions.named().get("inner")).containsExactly("        int x = 1;", "        x++;");
        assertThat(regions.named().get("oneLine")).containsExactly("    int y;");
    }

    @Test
    void aRegionOpenedTwiceIsAProblem() {
        // How JavadocSnippets.java had its arena example: javadoc showed only the second part.
        Regions regions = Regions.of("Twice.java", List.of(
                "// @start region=arena",
                "try (Arena arena = MemArena.ofConfined()) {",
                "    // @end",
                "    check();",
                "    // @start region=arena",
                "}",
                "// @end"));

        assertThat(regions.problems()).containsExactly("Twice.java:5: region arena is opened again (first at line 1)");
    }

    @Test
    void aRegionNeverClosedIsAProblem() {
        assertThat(Regions.of("Open.java", List.of("// @start region=a", "int a;", "// @start region=b", "int b;",
                "// @end region=b")).problems()).containsExactly("Open.java:1: region a is never closed");
    }

    @Test
    void aRegionOfBlankAndCommentLinesOnlyIsAProblem() {
        assertThat(Regions.of("Empty.java", List.of("// @start region=a", "", "    // ... use it ...",
                "/* nothing */", "// @end")).problems()).containsExactly("Empty.java:1: region a holds no code");
    }

    @Test
    void anEndWithNothingOpenOrNamingARegionNotOpenIsAProblem() {
        assertThat(Regions.of("End.java", List.of("int a; // @end", "// @start region=b", "int b;",
                "// @end region=c", "// @end")).problems())
                .containsExactly("End.java:1: @end with no region open",
                        "End.java:4: @end of region c, which is not open");
    }

    @Test
    void aStartWithoutARegionNameIsAProblem() {
        assertThat(Regions.of("Nameless.java", List.of("// @start", "int a;", "// @end")).problems())
                .contains("Nameless.java:1: @start without region=NAME");
    }

    @Test
    void snippetTagsAreReadWithTheirFileAndRegionAcrossLines() {
        List<Reference> references = references(Path.of("A.java"), """
                /**
                 * {@snippet lang = java file = "Snippets.java" region = "one"}
                 * {@snippet file="Snippets.java"
                 *   region=two}
                 * {@snippet lang = text :
                 *   inline, no file
                 * }
                 */
                """);

        assertThat(references).extracting(Reference::file, Reference::region)
                .containsExactly(tuple("Snippets.java", "one"), tuple("Snippets.java", "two"));
    }

    // Finding the files and the tags.

    /** A {@code {@snippet}} tag with a {@code file} attribute, in {@code source}; {@code region} null for none. */
    private record Reference(Path source, int line, String file, String region) {
        @Override
        public String toString() {
            return source + ":" + line + " {@snippet file=\"" + file + "\"" + (region == null ? "" : " region=\""
                    + region + "\"") + "}";
        }
    }

    private static final Pattern SNIPPET = Pattern.compile("\\{@snippet\\b([^:}]*)");
    private static final Pattern ATTRIBUTE = Pattern.compile("(\\w+)\\s*=\\s*(?:\"([^\"]*)\"|'([^']*)'|([^\\s:}]+))");

    private static List<Reference> references() {
        try (Stream<Path> files = Files.walk(SOURCES)) {
            return files.filter(f -> f.toString().endsWith(".java")).sorted()
                    .flatMap(f -> references(BASE.relativize(f), String.join("\n", read(f))).stream()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Reference> references(Path source, String text) {
        List<Reference> references = new ArrayList<>();
        Matcher tag = SNIPPET.matcher(text);
        while (tag.find()) {
            Map<String, String> attributes = attributes(tag.group(1));
            if (attributes.containsKey("file")) {
                int line = (int) text.substring(0, tag.start()).chars().filter(c -> c == '\n').count() + 1;
                references.add(new Reference(source, line, attributes.get("file"), attributes.get("region")));
            }
        }
        return references;
    }

    private static Map<String, String> attributes(String text) {
        Map<String, String> attributes = new LinkedHashMap<>();
        Matcher attribute = ATTRIBUTE.matcher(text);
        while (attribute.find()) {
            String value = attribute.group(2) != null ? attribute.group(2)
                    : attribute.group(3) != null ? attribute.group(3) : attribute.group(4);
            attributes.put(attribute.group(1), value);
        }
        return attributes;
    }

    /** The folders of {@code --snippet-path} in the POM's javadoc configuration. */
    private static List<Path> snippetPath() {
        Matcher option = Pattern.compile("--snippet-path=([^<\\s]+)").matcher(String.join("\n", read(BASE.resolve(
                "pom.xml"))));
        assertThat(option.find()).as("--snippet-path in pom.xml").isTrue();
        return Stream.of(option.group(1).split("[:;]"))
                .map(folder -> BASE.resolve(folder.replace("${project.basedir}/", ""))).toList();
    }

    /** Where javadoc looks for a reference's file: its package's snippet-files, then the snippet path. */
    private static List<Path> snippetFolders(Reference reference) {
        List<Path> folders = new ArrayList<>();
        folders.add(BASE.resolve(reference.source()).resolveSibling("snippet-files"));
        folders.addAll(snippetPath());
        return folders;
    }

    private static Optional<Path> resolve(Reference reference) {
        return snippetFolders(reference).stream().map(folder -> folder.resolve(reference.file()))
                .filter(Files::isRegularFile).findFirst();
    }

    private static List<Path> snippetFiles() {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> inSources = Files.walk(SOURCES)) {
            inSources.filter(f -> Files.isRegularFile(f) && f.getParent().getFileName().toString()
                    .equals("snippet-files")).forEach(files::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Path folder : snippetPath()) {
            try (Stream<Path> inFolder = Files.list(folder)) {
                inFolder.filter(Files::isRegularFile).sorted().forEach(files::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return files;
    }

    private static List<String> read(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The regions of one snippet file, as javadoc reads its markup: {@code @start region=NAME} opens a region, and
     * so do {@code @highlight}, {@code @replace} and {@code @link} given a {@code region} (named or not); {@code @end}
     * closes the one it names, else the last one opened. A region holds the lines from its opening tag's to its
     * {@code @end}'s, markup comments taken out. Markup is read from {@code //} comments, as in Java files.
     */
    private static final class Regions {
        private static final Pattern MARKUP = Pattern.compile("//\\s*(@(?:start|end|highlight|replace|link)\\b.*)$");
        private static final Pattern TAG = Pattern.compile("@(start|end|highlight|replace|link)\\b([^@]*)");
        private static final Pattern REGION = Pattern.compile(
                "\\bregion\\b(?:\\s*=\\s*(?:\"([^\"]*)\"|'([^']*)'|([^\\s:]+)))?");

        private final Map<String, List<String>> named = new LinkedHashMap<>();
        private final List<String> problems = new ArrayList<>();

        /** A region open at some line: its name (null for an anonymous one) and the lines it holds so far. */
        private record Open(String name, int line, List<String> lines) {}

        static Regions of(String fileName, List<String> lines) {
            Regions regions = new Regions();
            regions.read(fileName, lines);
            return regions;
        }

        Map<String, List<String>> named() {
            return named;
        }

        List<String> problems() {
            return problems;
        }

        private void read(String fileName, List<String> lines) {
            Map<String, Integer> openedAt = new LinkedHashMap<>();
            Deque<Open> open = new ArrayDeque<>();
            for (int i = 0; i < lines.size(); i++) {
                int number = i + 1;
                String where = fileName + ":" + number;
                String text = lines.get(i);
                Matcher markup = MARKUP.matcher(text);
                boolean hasMarkup = markup.find();
                String code = hasMarkup ? text.substring(0, markup.start()).stripTrailing() : text;
                List<Open> closing = new ArrayList<>();
                if (hasMarkup) {
                    Matcher tag = TAG.matcher(markup.group(1));
                    while (tag.find()) {
                        Matcher region = REGION.matcher(tag.group(2));
                        boolean hasRegion = region.find();
                        String name = hasRegion ? firstNonNull(region.group(1), region.group(2), region.group(3))
                                : null;
                        if (tag.group(1).equals("end")) {
                            Optional<Open> ended = name == null ? Optional.ofNullable(open.peek())
                                    : open.stream().filter(o -> name.equals(o.name())).findFirst();
                            if (ended.isEmpty()) {
                                problems.add(where + (name == null ? ": @end with no region open"
                                        : ": @end of region " + name + ", which is not open"));
                            } else {
                                open.remove(ended.get());
                                closing.add(ended.get());
                            }
                        } else if (tag.group(1).equals("start") && name == null) {
                            problems.add(where + ": @start without region=NAME");
                        } else if (hasRegion) {
                            if (name != null && openedAt.containsKey(name)) {
                                problems.add(where + ": region " + name + " is opened again (first at line "
                                        + openedAt.get(name) + ")");
                            } else if (name != null) {
                                openedAt.put(name, number);
                            }
                            open.push(new Open(name, number, new ArrayList<>()));
                        }
                    }
                }
                for (Open region : open) {
                    region.lines().add(code);
                }
                for (Open region : closing) {
                    region.lines().add(code);
                    ended(fileName, region);
                }
            }
            open.descendingIterator().forEachRemaining(region -> problems.add(fileName + ":" + region.line()
                    + ": region " + (region.name() == null ? "(anonymous)" : region.name()) + " is never closed"));
        }

        private void ended(String fileName, Open region) {
            List<String> lines = region.lines().stream().filter(line -> !line.isBlank()).toList();
            boolean holdsCode = lines.stream().map(String::strip).anyMatch(line -> !line.startsWith("//")
                    && !line.startsWith("/*") && !line.startsWith("*"));
            if (!holdsCode) {
                problems.add(fileName + ":" + region.line() + ": region "
                        + (region.name() == null ? "(anonymous)" : region.name()) + " holds no code");
            }
            if (region.name() != null) {
                named.putIfAbsent(region.name(), lines);
            }
        }

        private static String firstNonNull(String... values) {
            return Stream.of(values).filter(Objects::nonNull).findFirst().orElse(null);
        }
    }
}
