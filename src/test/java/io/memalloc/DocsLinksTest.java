package io.memalloc;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The docs point at what exists: every relative link of README.md and module-info-docs/*.md names a file of this
 * checkout (and, with a {@code #}, a heading of that page, as GitHub makes its anchors), and every source file they
 * name in backticks ({@code `Heap.java`}, {@code `internal/heap/Region.java`}) is one of ours. Files of the JDK's,
 * which the docs also name, are listed in {@link #JDK_FILES}.
 */
class DocsLinksTest {
    private static final Path BASE = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    private static final Pattern LINK = Pattern.compile("\\[[^\\]]*]\\(([^)\\s]+)\\)");
    private static final Pattern SOURCE = Pattern.compile("`([A-Za-z0-9_/]+\\.java)`");
    /** Sources of the JDK that the docs name for a reason they give. */
    private static final Set<String> JDK_FILES = Set.of("sun/launcher/LauncherHelper.java");

    @Test
    void everyRelativeLinkNamesAFileAndEveryAnchorAHeading() throws IOException {
        List<String> broken = new ArrayList<>();
        for (Path page : pages()) {
            Matcher link = LINK.matcher(Files.readString(page));
            while (link.find()) {
                String target = link.group(1);
                if (target.startsWith("http:") || target.startsWith("https:") || target.startsWith("mailto:")) {
                    continue;
                }
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                Path linked = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
                if (!Files.exists(linked)) {
                    broken.add(BASE.relativize(page) + ": " + target + " (no such file)");
                } else if (hash >= 0 && linked.toString().endsWith(".md")
                        && !anchors(linked).contains(target.substring(hash + 1))) {
                    broken.add(BASE.relativize(page) + ": " + target + " (no such heading)");
                }
            }
        }
        assertThat(broken).isEmpty();
    }

    @Test
    void everySourceFileTheDocsNameIsOneOfOurs() throws IOException {
        List<String> ours;
        try (Stream<Path> files = Files.walk(BASE)) {
            ours = files.map(path -> BASE.relativize(path).toString().replace('\\', '/'))
                    .filter(path -> path.endsWith(".java") && !path.startsWith("target/") && !path.contains("/target/"))
                    .toList();
        }
        List<String> unknown = new ArrayList<>();
        for (Path page : pages()) {
            Matcher source = SOURCE.matcher(Files.readString(page));
            while (source.find()) {
                String name = source.group(1);
                if (!JDK_FILES.contains(name) && ours.stream().noneMatch(p -> p.equals(name) || p.endsWith("/" + name))) {
                    unknown.add(BASE.relativize(page) + ": " + name);
                }
            }
        }
        assertThat(unknown).isEmpty();
    }

    @Test
    void anAnchorIsTheHeadingAsGitHubSpellsIt() {
        assertThat(anchor("## A write past a block, in each mode")).isEqualTo("a-write-past-a-block-in-each-mode");
        assertThat(anchor("### `stats()` and `trim()`")).isEqualTo("stats-and-trim");
    }

    private static List<Path> pages() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(BASE.resolve("README.md")));
        try (Stream<Path> docs = Files.list(BASE.resolve("module-info-docs"))) {
            docs.filter(path -> path.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        return pages;
    }

    private static Set<String> anchors(Path page) {
        try {
            return Files.readAllLines(page).stream().filter(line -> line.startsWith("#")).map(DocsLinksTest::anchor)
                    .collect(Collectors.toSet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** GitHub's anchor of a heading: lower case, punctuation but hyphens and underscores dropped, spaces to hyphens. */
    private static String anchor(String heading) {
        return heading.replaceFirst("^#+\\s*", "").toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 _-]", "")
                .replace(' ', '-');
    }
}
