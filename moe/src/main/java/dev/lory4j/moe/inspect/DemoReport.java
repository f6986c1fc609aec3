package dev.lory4j.moe.inspect;

import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The HTML report of a dense-vs-Lory run: loss curves, perplexity per domain, routing heat maps, expert usage. */
public final class DemoReport {
    private DemoReport() {}

    /** Writes {@code report.html} into {@code dir} and returns its path. */
    public static Path write(Path dir, Trainer.Result dense, Trainer.Result lory, Map<String, double[]> ppl,
                             RoutingTrace trace, int layers, int experts, List<String> domains,
                             PackingMetrics similar, PackingMetrics random) throws IOException {
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset='utf-8'><title>lory4j demo report</title>")
                .append("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}")
                .append("th{background:#f3f3f3}.grid{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>");
        h.append("<h1>lory4j: dense vs Lory on the bundled corpus</h1>");
        h.append(String.format(Locale.ROOT, "<p>Similarity batching put related documents next to each other: mean "
                        + "cosine similarity of adjacent documents %.3f (random packing %.3f), domain purity of a "
                        + "sequence %.3f (random %.3f).</p>", similar.meanAdjacentCosine(), random.meanAdjacentCosine(),
                similar.meanPurity(), random.meanPurity()));
        h.append("<h2>Training loss</h2>");
        h.append(Svg.lineChart("training loss (smoothed over 10 steps)", "step", "loss",
                List.of(series("dense", dense), series("lory", lory)), 900, 320));
        h.append("<h2>Held-out perplexity per domain</h2><table><tr><th>domain</th><th>dense</th><th>lory</th>"
                + "<th>change</th></tr>");
        List<String> cats = new ArrayList<>(ppl.keySet());
        double[][] bars = new double[2][cats.size()];
        for (int i = 0; i < cats.size(); i++) {
            double[] v = ppl.get(cats.get(i));
            bars[0][i] = v[0];
            bars[1][i] = v[1];
            h.append(String.format(Locale.ROOT, "<tr><td style='text-align:left'>%s</td><td>%.3f</td><td>%.3f</td>"
                    + "<td>%+.1f%%</td></tr>", cats.get(i), v[0], v[1], 100 * (v[1] / v[0] - 1)));
        }
        h.append("</table>");
        h.append(Svg.groupedBars("held-out perplexity (lower is better)", "perplexity", cats, List.of("dense", "lory"),
                bars, 900, 320));
        h.append("<h2>Routing weights per layer and domain</h2><p>Mean weight of each expert over the held-out segments "
                + "of each domain (causal segment routing). Flat rows mean no specialisation; a dark cell is an expert "
                + "a domain prefers.</p><div class='grid'>");
        List<String> cols = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            cols.add("e" + e);
        }
        for (int l = 0; l < layers; l++) {
            double[][] m = new double[domains.size()][];
            double max = 0;
            for (int d = 0; d < domains.size(); d++) {
                m[d] = trace.meanWeights(l, domains.get(d), experts);
                for (double v : m[d]) {
                    max = Math.max(max, Double.isFinite(v) ? v : 0);
                }
            }
            h.append(Svg.heatmap("layer " + l, domains, cols, m, Math.max(max, 1e-9)));
        }
        h.append("</div><h2>Expert usage</h2><p>Share of held-out segments in which each expert's weight exceeds 2/E "
                + "(the paper's activation criterion), and the mean routing entropy (ln E = ")
                .append(String.format(Locale.ROOT, "%.3f", Math.log(experts))).append(" is uniform).</p><div class='grid'>");
        double[][] usage = new double[layers][];
        List<String> rows = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            usage[l] = trace.usage(l, experts);
            rows.add(String.format(Locale.ROOT, "layer %d (H %.2f)", l, trace.meanEntropy(l)));
        }
        h.append(Svg.heatmap("usage", rows, cols, usage, 1.0));
        List<dev.lory4j.moe.LoryLayer> loryLayers = lory.model().loryLayers();
        if (!loryLayers.isEmpty()) {
            h.append("</div><h2>How far the experts moved apart</h2><p>Cosine similarity of expert pairs over their "
                    + "merged-able weights (all three matrices). Right after upcycling every pair is 1.00; lower means "
                    + "the experts have specialised.</p><div class='grid'>");
            for (int l = 0; l < loryLayers.size(); l++) {
                double[][] sim = RoutingTrace.expertSimilarity(loryLayers.get(l).experts());
                h.append(Svg.heatmap("layer " + l, cols, cols, sim, 1.0));
            }
        }
        h.append("</div><p>Files beside this report: <code>metrics.json</code>, <code>routing.csv</code> (every "
                + "routing decision), and the checkpoints <code>dense/latest.safetensors</code> and "
                + "<code>lory/latest.safetensors</code>.</p></body></html>");
        Path file = dir.resolve("report.html");
        Files.writeString(file, h.toString());
        return file;
    }

    private static Svg.Series series(String name, Trainer.Result r) {
        int n = r.steps().size();
        double[] x = new double[n];
        double[] y = new double[n];
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += r.steps().get(i).loss();
            if (i >= 10) {
                acc -= r.steps().get(i - 10).loss();
            }
            x[i] = i;
            y[i] = acc / Math.min(i + 1, 10);
        }
        return new Svg.Series(name, x, y);
    }
}
