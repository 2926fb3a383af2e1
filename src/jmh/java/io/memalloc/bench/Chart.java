package io.memalloc.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Draws a run's results from JMH's JSON output: one bar chart per benchmark class
 * ({@code module-info-docs/img/CLASS.png}, with XChart) and one Markdown table of every result
 * ({@code target/jmh-table.md}, for {@code module-info-docs/performance.md}).
 *
 * <p>In a chart, a bar's series is the benchmark method (and the {@code arena} parameter, when it has one); its
 * category is the rest of its parameters.
 */
public final class Chart {
    private static final Path IMAGES = Path.of("module-info-docs", "img");
    private static final Path TABLE = Path.of("target", "jmh-table.md");
    /** Parameters that name what is compared rather than the work: they pick the series, not the category. */
    private static final Set<String> SERIES_PARAMS = Set.of("arena");

    private Chart() {}

    /** One JMH result. */
    private record Result(String benchClass, String series, String category, double score, double error,
            String unit) {}

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path json = Path.of(args.length == 0 ? Bench.RESULT.toString() : args[0]);
        List<Result> results = read(json);
        if (results.isEmpty()) {
            throw new IllegalStateException("chart: no results in " + json);
        }
        Files.createDirectories(IMAGES);
        Map<String, List<Result>> byClass = new LinkedHashMap<>();
        for (Result r : results) {
            byClass.computeIfAbsent(r.benchClass(), _ -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Result>> e : byClass.entrySet()) {
            Path png = IMAGES.resolve(e.getKey() + ".png");
            BitmapEncoder.saveBitmap(chart(e.getKey(), e.getValue()), png.toString(), BitmapEncoder.BitmapFormat.PNG);
            System.out.println("chart: wrote " + png);
        }
        Files.createDirectories(TABLE.getParent());
        Files.writeString(TABLE, table(results), StandardCharsets.UTF_8);
        System.out.println("chart: wrote " + TABLE);
    }

    private static List<Result> read(Path json) throws IOException {
        List<Result> results = new ArrayList<>();
        try (Reader in = Files.newBufferedReader(json, StandardCharsets.UTF_8)) {
            JsonArray runs = JsonParser.parseReader(in).getAsJsonArray();
            for (JsonElement element : runs) {
                JsonObject run = element.getAsJsonObject();
                String[] name = run.get("benchmark").getAsString().split("\\.", -1);
                String benchClass = name[name.length - 2];
                StringBuilder series = new StringBuilder(name[name.length - 1]);
                List<String> category = new ArrayList<>();
                if (run.has("params")) {
                    for (Map.Entry<String, JsonElement> p : run.getAsJsonObject("params").entrySet()) {
                        if (SERIES_PARAMS.contains(p.getKey())) {
                            series.append(' ').append(p.getValue().getAsString());
                        } else {
                            category.add(p.getKey() + "=" + p.getValue().getAsString());
                        }
                    }
                }
                String where = category.isEmpty() ? "-" : String.join(", ", category);
                results.add(result(benchClass, series.toString(), where, run.getAsJsonObject("primaryMetric")));
                // Counters a benchmark reports itself (JMH's AuxCounters, as Footprint's ratios): a chart of their
                // own, since their unit is not the benchmark's. Profilers' metrics (gc., jfr) are left out.
                if (run.has("secondaryMetrics")) {
                    for (Map.Entry<String, JsonElement> m : run.getAsJsonObject("secondaryMetrics").entrySet()) {
                        JsonObject metric = m.getValue().getAsJsonObject();
                        if (metric.get("scoreUnit").getAsString().equals("#")) {
                            results.add(result(benchClass + "-" + m.getKey(), series.toString(), where, metric));
                        }
                    }
                }
            }
        }
        return results;
    }

    private static Result result(String benchClass, String series, String category, JsonObject metric) {
        JsonElement error = metric.get("scoreError");
        return new Result(benchClass, series, category, metric.get("score").getAsDouble(),
                error.isJsonPrimitive() && error.getAsJsonPrimitive().isNumber() ? error.getAsDouble() : Double.NaN,
                metric.get("scoreUnit").getAsString());
    }

    private static CategoryChart chart(String benchClass, List<Result> results) {
        Set<String> categories = new LinkedHashSet<>();
        Map<String, Map<String, Double>> series = new LinkedHashMap<>();
        double min = Double.MAX_VALUE;
        double max = 0;
        for (Result r : results) {
            categories.add(r.category());
            series.computeIfAbsent(r.series(), _ -> new LinkedHashMap<>()).put(r.category(), r.score());
            min = Math.min(min, r.score());
            max = Math.max(max, r.score());
        }
        CategoryChart chart = new CategoryChartBuilder().width(1200).height(600)
                .title(benchClass).yAxisTitle(results.get(0).unit()).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLabelRotation(20);
        boolean logarithmic = min > 0 && max / min > 20;
        chart.getStyler().setYAxisLogarithmic(logarithmic);
        if (logarithmic) {
            // XChart anchors a bar chart's axis at 0, which a logarithmic axis refuses: start it at a power of ten.
            chart.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(min))));
        }
        List<String> xs = List.copyOf(categories);
        for (Map.Entry<String, Map<String, Double>> s : series.entrySet()) {
            List<Double> ys = new ArrayList<>();
            for (String x : xs) {
                // A bar that is missing (a benchmark not run for that category) is drawn as nothing: no value.
                ys.add(s.getValue().getOrDefault(x, logarithmic ? min : 0.0));
            }
            chart.addSeries(s.getKey(), xs, ys);
        }
        return chart;
    }

    private static String table(List<Result> results) {
        StringBuilder out = new StringBuilder("""
                | benchmark | parameters | score | error (99.9%) | unit |
                |---|---|---:|---:|---|
                """);
        for (Result r : results) {
            out.append(String.format(Locale.ROOT, "| %s.%s | %s | %s | %s | %s |%n", r.benchClass(), r.series(),
                    r.category(), format(r.score()), Double.isNaN(r.error()) ? "" : format(r.error()), r.unit()));
        }
        return out.toString();
    }

    private static String format(double value) {
        return value >= 100 ? String.format(Locale.ROOT, "%,.0f", value) : String.format(Locale.ROOT, "%.3g", value);
    }
}
