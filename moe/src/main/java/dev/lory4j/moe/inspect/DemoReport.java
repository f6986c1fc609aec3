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
        h.append(RoutingReport.sections(lory.model(), trace, layers, experts, domains));
        h.append("<p>Files beside this report: <code>metrics.json</code>, <code>routing.csv</code> (every "
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
