package dev.lory4j.moe.inspect;

import dev.lory4j.data.Document;
import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The HTML report of a dense-vs-Lory run: a run header, loss curves and held-out perplexity over steps, perplexity
 * per domain, and the routing views of {@link RoutingReport}.
 */
public final class DemoReport {
    private DemoReport() {}

    /** Steps of the loss's moving average. */
    static final int SMOOTHING = 10;
    /** Share of the first steps whose loss may run off the top of the loss chart. */
    static final double SKIP = 0.05;

    /**
     * What the report shows besides the metrics: both runs, the held-out routing trace with its domains, documents to
     * show routing on (with the tokenizer and the window length), the packing statistics, and whether the run is a
     * smoke test (then no change column: too few steps for a comparison).
     */
    public record Inputs(Trainer.Result dense, Trainer.Result lory, RoutingTrace trace, List<String> domains,
                         List<Document> samples, Tokenizer tokenizer, int length, PackingMetrics similar,
                         PackingMetrics random, boolean smokeTest) {}

    /**
     * Writes {@code report.html} into {@code dir} and returns its path; {@code metrics} is what {@code metrics.json}
     * holds (its header fields, perplexities per domain under "perplexity": domain -> {dense, lory}).
     */
    public static Path write(Path dir, Map<String, Object> metrics, Inputs in) throws IOException {
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width,"
                        + "initial-scale=1'><title>lory4j demo report</title>").append(RoutingReport.STYLE)
                .append("</head><body><h1>lory4j: dense vs Lory on the bundled corpus</h1>");
        if (in.smokeTest()) {
            h.append("<p class='note'>A smoke test: this run is too short for the dense-vs-Lory comparison to mean "
                    + "anything; it checks that the whole pipeline runs (the full <code>lory4j demo</code> trains 800 "
                    + "steps).</p>");
        }
        h.append(header(metrics));
        h.append(String.format(Locale.ROOT, "<p>Similarity batching put related documents next to each other: mean "
                        + "cosine similarity of adjacent documents %.3f (random packing %.3f), domain purity of a "
                        + "sequence %.3f (random %.3f).</p>", in.similar().meanAdjacentCosine(),
                in.random().meanAdjacentCosine(), in.similar().meanPurity(), in.random().meanPurity()));
        h.append("<h2>Training loss and held-out perplexity</h2><div class='grid'>");
        h.append(lossChart(in.dense(), in.lory()));
        h.append(perplexityChart(in.dense(), in.lory()));
        int upcycle = RunStats.upcycleStep(in.lory().steps());
        h.append("</div><p class='how'>How to read: left, the training loss per step (faint) and its mean over the "
                        + "last ").append(SMOOTHING).append(" steps (bold); the y axis runs from the lowest smoothed loss to the highest "
                        + "after the first ").append(Math.round(SKIP * 100)).append(" % of the steps, so the first "
                        + "steps' loss runs off the top. ")
                .append(upcycle >= 0 ? "The dashed line marks step " + upcycle + ", where the Lory model switched from "
                        + "its dense warm-up to experts (upcycling). " : "")
                .append("Right, the held-out perplexity over all domains at each periodic evaluation (per-domain "
                        + "values in metrics.json).</p>");
        h.append(perplexityTable(metrics, in.smokeTest()));
        h.append(RoutingReport.sections(in.lory().model(), in.trace(), in.domains()));
        h.append(RoutingReport.documentSection(in.lory().model(), in.samples(), in.tokenizer(), in.length()));
        h.append("<p>Files beside this report: <code>metrics.json</code>, <code>routing.csv</code> and "
                + "<code>routing.json</code> (every routing decision on the held-out rows), and the checkpoints "
                + "<code>dense/latest.safetensors</code> and <code>lory/latest.safetensors</code>; their fields are "
                + "described in docs/report-files.md.</p></body></html>");
        Path file = dir.resolve("report.html");
        Files.writeString(file, h.toString());
        return file;
    }

    /** The run header: version, seed, backend, time, throughput, parameters, then the configuration. */
    private static String header(Map<String, Object> m) {
        StringBuilder h = new StringBuilder("<h2>Run</h2><table>");
        for (String key : List.of("version", "seed", "backend", "wall_seconds", "tokens_per_second", "parameters")) {
            if (m.containsKey(key)) {
                h.append("<tr><th class='l'>").append(key.replace('_', ' ')).append("</th><td class='l'>")
                        .append(value(m.get(key))).append("</td></tr>");
            }
        }
        h.append("</table><details><summary>configuration (demo options, training options, model configs)</summary>");
        for (String key : List.of("options", "training", "model_config")) {
            if (m.containsKey(key)) {
                h.append("<h3>").append(key.replace('_', ' ')).append("</h3>").append(value(m.get(key)));
            }
        }
        return h.append("</details>").toString();
    }

    /** A JSON-like value as HTML: maps as nested tables, lists joined, numbers briefly. */
    private static String value(Object v) {
        if (v instanceof Map<?, ?> map) {
            StringBuilder h = new StringBuilder("<table>");
            map.forEach((k, x) -> h.append("<tr><th class='l'>").append(Svg.esc(String.valueOf(k)))
                    .append("</th><td class='l'>").append(value(x)).append("</td></tr>"));
            return h.append("</table>").toString();
        }
        if (v instanceof List<?> list) {
            return Svg.esc(list.toString());
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return Math.abs(d) >= 1000 ? String.format(Locale.ROOT, "%,.0f", d) : Svg.num(d);
        }
        if (v instanceof Long || v instanceof Integer) {
            return String.format(Locale.ROOT, "%,d", ((Number) v).longValue());
        }
        return Svg.esc(String.valueOf(v));
    }

    private static String lossChart(Trainer.Result dense, Trainer.Result lory) {
        List<Svg.Series> series = new ArrayList<>();
        List<double[]> smooth = new ArrayList<>();
        int colour = 0;
        for (Trainer.Result r : List.of(dense, lory)) {
            String name = colour == 0 ? "dense" : "lory";
            double[] raw = RunStats.losses(r.steps());
            double[] x = r.steps().stream().mapToDouble(Trainer.StepLog::step).toArray();
            double[] s = RunStats.smoothed(raw, SMOOTHING);
            smooth.add(s);
            series.add(new Svg.Series(name + " (raw)", x, raw, colour, true));
            series.add(new Svg.Series(name + " (mean of " + SMOOTHING + ")", x, s, colour, false));
            colour++;
        }
        double[] both = new double[smooth.get(0).length + smooth.get(1).length];
        System.arraycopy(smooth.get(0), 0, both, 0, smooth.get(0).length);
        System.arraycopy(smooth.get(1), 0, both, smooth.get(0).length, smooth.get(1).length);
        double[] range = RunStats.robustRange(both, SKIP);
        int upcycle = RunStats.upcycleStep(lory.steps());
        List<Svg.Marker> marks = upcycle >= 0 ? List.of(new Svg.Marker(upcycle, "upcycling")) : List.of();
        return Svg.lineChart("training loss", "step", "loss (nats/token)", series, range[0], range[1], marks, 560, 320);
    }

    private static String perplexityChart(Trainer.Result dense, Trainer.Result lory) {
        List<Svg.Series> series = new ArrayList<>();
        int colour = 0;
        for (Trainer.Result r : List.of(dense, lory)) {
            double[] x = r.evals().stream().mapToDouble(Trainer.EvalResult::step).toArray();
            double[] y = r.evals().stream().mapToDouble(e -> e.perplexity().getOrDefault("all", Double.NaN)).toArray();
            series.add(new Svg.Series(colour == 0 ? "dense" : "lory", x, y, colour, false));
            colour++;
        }
        return Svg.lineChart("held-out perplexity (all domains)", "step", "perplexity", series, 560, 320);
    }

    /** The per-domain table; the change column only when the run is long enough to compare. */
    @SuppressWarnings("unchecked")
    private static String perplexityTable(Map<String, Object> metrics, boolean smokeTest) {
        Map<String, Map<String, Double>> ppl = (Map<String, Map<String, Double>>) metrics.get("perplexity");
        StringBuilder h = new StringBuilder("<h2>Held-out perplexity per domain</h2><table><tr><th class='l'>domain"
                + "</th><th>dense</th><th>lory</th>" + (smokeTest ? "" : "<th>change</th>") + "</tr>");
        List<String> cats = new ArrayList<>(ppl.keySet());
        double[][] bars = new double[2][cats.size()];
        for (int i = 0; i < cats.size(); i++) {
            double d = ppl.get(cats.get(i)).get("dense");
            double l = ppl.get(cats.get(i)).get("lory");
            bars[0][i] = d;
            bars[1][i] = l;
            h.append(String.format(Locale.ROOT, "<tr><td class='l'>%s</td><td>%.3f</td><td>%.3f</td>",
                    Svg.esc(cats.get(i)), d, l));
            h.append(smokeTest ? "" : String.format(Locale.ROOT, "<td>%+.1f%%</td>", 100 * (l / d - 1)))
                    .append("</tr>");
        }
        h.append("</table>");
        if (smokeTest) {
            h.append("<p class='note'>No change column: the steps of a smoke test are too few for a comparison.</p>");
        }
        return h.append(Svg.groupedBars("held-out perplexity (lower is better)", "perplexity", cats,
                List.of("dense", "lory"), bars, 900, 320)).toString();
    }
}
