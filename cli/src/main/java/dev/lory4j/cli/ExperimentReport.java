package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.cli.Experiment.Arm;
import dev.lory4j.cli.Experiment.DocLoss;
import dev.lory4j.cli.Experiment.Run;
import dev.lory4j.cli.Experiment.Study;
import dev.lory4j.cli.ExperimentStats.Interval;
import dev.lory4j.cli.ExperimentStats.Losses;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The results of {@code lory4j experiment}: {@code results.json} (every number, with intervals), {@code results.md}
 * (one table per study) and {@code report.html} (the same tables and a chart of each change with its intervals).
 */
final class ExperimentReport {
    private ExperimentReport() {}

    /** The seed of the document resamples: the same resamples for every configuration, so changes are paired. */
    private static final long BOOTSTRAP_SEED = 20_261_206L;

    /** Everything measured, per study, arm and domain (domains sorted, then "all"). */
    static Map<String, Object> results(Experiment.Options o, List<Study> studies, Map<String, Map<Long, Run>> runs) {
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> settings = new LinkedHashMap<>(o.runKey());
        settings.put("experts", o.experts());
        settings.put("segment", o.segment());
        settings.put("seeds", o.seeds());
        settings.put("first_seed", o.seed());
        settings.put("bootstrap_resamples", o.resamples());
        settings.put("ood_domain", o.oodDomain());
        settings.put("smoke_test", o.smokeTest());
        root.put("settings", settings);
        root.put("version", "lory4j 0.1.0-SNAPSHOT");
        root.put("backend", dev.lory4j.tensor.spi.Backends.current().name() + " on "
                + dev.lory4j.tensor.spi.Backends.current().deviceName() + ", "
                + dev.lory4j.tensor.kernels.Parallel.threads() + " threads");
        List<Object> out = new ArrayList<>();
        for (Study s : studies) {
            Map<String, Object> sm = new LinkedHashMap<>();
            sm.put("study", s.name());
            sm.put("question", s.question());
            sm.put("baseline", s.baseline().key());
            Map<String, List<String>> subsets = domainSubsets(s, runs.get(s.baseline().key()));
            Map<String, int[][]> weights = new LinkedHashMap<>();
            subsets.forEach((name, ids) -> weights.put(name,
                    ExperimentStats.bootstrapWeights(ids.size(), o.resamples(), BOOTSTRAP_SEED)));
            List<Object> arms = new ArrayList<>();
            for (Arm a : s.arms()) {
                Map<Long, Run> byseed = runs.get(a.key());
                Map<String, Object> am = new LinkedHashMap<>();
                am.put("arm", a.key());
                Run first = byseed.values().iterator().next();
                am.put("parameters", first.parameters());
                am.put("seeds", new ArrayList<>(byseed.keySet()));
                am.put("tokens_per_second", byseed.values().stream().mapToDouble(Run::tokensPerSecond).average()
                        .orElse(Double.NaN));
                am.put("final_train_loss", byseed.values().stream().mapToDouble(Run::finalLoss).average()
                        .orElse(Double.NaN));
                Map<String, Object> ppl = new LinkedHashMap<>();
                Map<String, Object> change = new LinkedHashMap<>();
                for (Map.Entry<String, List<String>> d : subsets.entrySet()) {
                    Losses x = losses(byseed, d.getValue());
                    ppl.put(d.getKey(), interval(ExperimentStats.perplexity(x, weights.get(d.getKey()))));
                    if (!a.equals(s.baseline())) {
                        Losses b = losses(runs.get(s.baseline().key()), d.getValue());
                        change.put(d.getKey(), interval(ExperimentStats.change(x, b, weights.get(d.getKey()))));
                    }
                }
                am.put("perplexity", ppl);
                if (!change.isEmpty()) {
                    am.put("change_vs_baseline", change);
                }
                arms.add(am);
            }
            sm.put("arms", arms);
            out.add(sm);
        }
        root.put("studies", out);
        return root;
    }

    /**
     * The document sets a study reports: each domain and "all", or for a left-out domain that domain and the
     * others ("seen domains").
     */
    private static Map<String, List<String>> domainSubsets(Study s, Map<Long, Run> baselineRuns) {
        List<DocLoss> docs = baselineRuns.values().iterator().next().docs();
        Map<String, List<String>> byDomain = new TreeMap<>();
        docs.forEach(d -> byDomain.computeIfAbsent(d.domain(), k -> new ArrayList<>()).add(d.id()));
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (s.evalDomain() != null) {
            out.put(s.evalDomain() + " (left out)", byDomain.getOrDefault(s.evalDomain(), List.of()));
            List<String> seen = new ArrayList<>();
            byDomain.forEach((d, ids) -> {
                if (!d.equals(s.evalDomain())) {
                    seen.addAll(ids);
                }
            });
            out.put("seen domains", seen);
        } else {
            out.putAll(byDomain);
            out.put("all", docs.stream().map(DocLoss::id).toList());
        }
        return out;
    }

    /** The per-seed, per-document losses of these documents (in the given order). */
    private static Losses losses(Map<Long, Run> byseed, List<String> ids) {
        double[][] loss = new double[byseed.size()][ids.size()];
        long[] tokens = new long[ids.size()];
        int s = 0;
        for (Run r : byseed.values()) {
            Map<String, DocLoss> byId = new TreeMap<>();
            r.docs().forEach(d -> byId.put(d.id(), d));
            for (int d = 0; d < ids.size(); d++) {
                DocLoss x = byId.get(ids.get(d));
                if (x == null) {
                    throw new IllegalStateException("experiment: run " + r.arm().key() + " seed " + r.seed()
                            + " has no result for document " + ids.get(d));
                }
                loss[s][d] = x.lossSum();
                tokens[d] = x.tokens();
            }
            s++;
        }
        return new Losses(loss, tokens);
    }

    private static Map<String, Object> interval(Interval[] bySeedAndDocs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("value", bySeedAndDocs[0].value());
        m.put("ci95_seeds", List.of(bySeedAndDocs[0].low(), bySeedAndDocs[0].high()));
        m.put("ci95_documents", List.of(bySeedAndDocs[1].low(), bySeedAndDocs[1].high()));
        return m;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writing

    /** Writes results.json, results.md and report.html into the output directory and prints the tables. */
    static void write(Experiment.Options o, List<Study> studies, Map<String, Object> results, PrintStream out)
            throws IOException {
        String md = markdown(results);
        RunDir.writeAtomically(o.out().resolve("results.json"), Json.write(results));
        RunDir.writeAtomically(o.out().resolve("results.md"), md);
        RunDir.writeAtomically(o.out().resolve("report.html"), html(results, md));
        out.println();
        out.print(md);
        out.printf(Locale.ROOT, "%nresults: %s (results.md, report.html beside it)%n", o.out().resolve("results.json"));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Object o) {
        return (List<Map<String, Object>>) o;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> map(Object o) {
        return (Map<String, Map<String, Object>>) o;
    }

    /** One table per study: perplexity and change against the baseline per domain, each with both intervals. */
    @SuppressWarnings("unchecked")
    static String markdown(Map<String, Object> results) {
        StringBuilder sb = new StringBuilder();
        Map<String, Object> st = (Map<String, Object>) results.get("settings");
        if (Boolean.TRUE.equals(st.get("smoke_test"))) {
            sb.append("**Smoke test**: ").append(st.get("steps")).append(" steps are far too few for these numbers "
                    + "to say anything about the methods; they only show that every path runs.\n\n");
        }
        sb.append(String.format(Locale.ROOT, "Perplexity is the geometric mean over %s seeds; intervals are 95 %%: "
                + "by seed (Student's t on log perplexity) and by bootstrap over held-out documents (%s resamples, "
                + "the same for every configuration). A change is this configuration's perplexity over the "
                + "baseline's, minus 1, paired by seed and by resample.%n", st.get("seeds"),
                st.get("bootstrap_resamples")));
        for (Map<String, Object> s : list(results.get("studies"))) {
            sb.append("\n### ").append(s.get("study")).append(": ").append(s.get("question")).append("\n\n");
            sb.append("Baseline: `").append(s.get("baseline")).append("`.\n\n");
            sb.append("| configuration | documents | perplexity | 95 % CI seeds | 95 % CI docs | change | "
                    + "95 % CI seeds | 95 % CI docs |\n|---|---|---|---|---|---|---|---|\n");
            for (Map<String, Object> a : list(s.get("arms"))) {
                Map<String, Map<String, Object>> ppl = map(a.get("perplexity"));
                Map<String, Map<String, Object>> ch = a.containsKey("change_vs_baseline")
                        ? map(a.get("change_vs_baseline")) : Map.of();
                for (String d : ppl.keySet()) {
                    Map<String, Object> p = ppl.get(d);
                    sb.append("| `").append(a.get("arm")).append("` | ").append(d).append(" | ")
                            .append(num(p.get("value"), false)).append(" | ").append(range(p.get("ci95_seeds"), false))
                            .append(" | ").append(range(p.get("ci95_documents"), false)).append(" | ");
                    Map<String, Object> c = ch.get(d);
                    if (c == null) {
                        sb.append("baseline | | |\n");
                    } else {
                        sb.append(num(c.get("value"), true)).append(" | ").append(range(c.get("ci95_seeds"), true))
                                .append(" | ").append(range(c.get("ci95_documents"), true)).append(" |\n");
                    }
                }
            }
        }
        return sb.toString();
    }

    private static String num(Object v, boolean percent) {
        double x = ((Number) v).doubleValue();
        if (Double.isNaN(x)) {
            return "n/a";
        }
        return percent ? String.format(Locale.ROOT, "%+.1f %%", 100 * x) : String.format(Locale.ROOT, "%.3f", x);
    }

    private static String range(Object v, boolean percent) {
        List<?> r = (List<?>) v;
        return num(r.get(0), percent) + " to " + num(r.get(1), percent);
    }

    /** The HTML report: the run's settings, then per study a chart of the changes with both intervals and the table. */
    static String html(Map<String, Object> results, String markdown) {
        StringBuilder sb = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>lory4j "
                + "experiment</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
                + "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px}"
                + "svg{width:100%;height:auto}</style></head><body><h1>lory4j experiment</h1>\n<p>");
        sb.append(escape(String.valueOf(results.get("version")))).append(", ")
                .append(escape(String.valueOf(results.get("backend")))).append("</p>\n<p>Settings: <code>")
                .append(escape(Json.write(results.get("settings")))).append("</code></p>\n");
        for (Map<String, Object> s : list(results.get("studies"))) {
            sb.append("<h2>").append(escape(String.valueOf(s.get("study")))).append(": ")
                    .append(escape(String.valueOf(s.get("question")))).append("</h2>\n");
            sb.append(changeChart(s));
        }
        sb.append("<h2>Tables</h2>\n").append(markdownTables(markdown)).append("</body></html>\n");
        return sb.toString();
    }

    /**
     * Dots for each configuration's change against the baseline per document set, with the seed interval as a thick
     * bar and the document interval as a thin one; zero is marked.
     */
    private static String changeChart(Map<String, Object> s) {
        List<String[]> rows = new ArrayList<>();
        List<double[]> vals = new ArrayList<>();
        for (Map<String, Object> a : list(s.get("arms"))) {
            if (!a.containsKey("change_vs_baseline")) {
                continue;
            }
            map(a.get("change_vs_baseline")).forEach((d, c) -> {
                List<?> cs = (List<?>) c.get("ci95_seeds");
                List<?> cd = (List<?>) c.get("ci95_documents");
                rows.add(new String[] {String.valueOf(a.get("arm")), d});
                vals.add(new double[] {((Number) c.get("value")).doubleValue(), ((Number) cs.get(0)).doubleValue(),
                    ((Number) cs.get(1)).doubleValue(), ((Number) cd.get(0)).doubleValue(),
                    ((Number) cd.get(1)).doubleValue()});
            });
        }
        double lo = 0;
        double hi = 0;
        for (double[] v : vals) {
            for (double x : v) {
                if (Double.isFinite(x)) {
                    lo = Math.min(lo, x);
                    hi = Math.max(hi, x);
                }
            }
        }
        double pad = Math.max(1e-3, (hi - lo) * 0.05);
        lo -= pad;
        hi += pad;
        int w = 900;
        int left = 330;
        int rowH = 18;
        int h = rowH * rows.size() + 40;
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "<svg viewBox=\"0 0 %d %d\" role=\"img\"><title>change against %s</title>", w, h, s.get("baseline")));
        double span = hi - lo;
        double from = lo;
        java.util.function.DoubleUnaryOperator xOf = v -> left + (w - left - 20) * (v - from) / span;
        sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"10\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\" "
                + "stroke-dasharray=\"4 3\"/>", xOf.applyAsDouble(0), xOf.applyAsDouble(0), h - 25));
        for (int i = 0; i < rows.size(); i++) {
            double[] v = vals.get(i);
            double y = 20 + i * rowH;
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s"
                    + " — %s</text>", left - 8, y + 4, escape(rows.get(i)[0]), escape(rows.get(i)[1])));
            if (Double.isFinite(v[3]) && Double.isFinite(v[4])) {
                sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        + "stroke=\"#9ecae1\" stroke-width=\"2\"/>", xOf.applyAsDouble(v[3]), y,
                        xOf.applyAsDouble(v[4]), y));
            }
            if (Double.isFinite(v[1]) && Double.isFinite(v[2])) {
                sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        + "stroke=\"#08519c\" stroke-width=\"6\" stroke-opacity=\"0.6\"/>", xOf.applyAsDouble(v[1]), y,
                        xOf.applyAsDouble(v[2]), y));
            }
            sb.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d62728\"/>",
                    xOf.applyAsDouble(v[0]), y));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%+.1f %%</text><text x=\"%d\" "
                + "y=\"%d\" font-size=\"11\" text-anchor=\"end\">%+.1f %%</text><text x=\"%d\" y=\"%d\" "
                + "font-size=\"11\" text-anchor=\"middle\">change in perplexity against %s (dot: mean; thick: 95 %% CI "
                + "by seed; thin: by documents; left of the dashed line is better)</text></svg>\n", left, h - 8,
                100 * lo, w - 20, h - 8, 100 * hi, (left + w) / 2, h - 8, escape(String.valueOf(s.get("baseline")))));
        return sb.toString();
    }

    /** The markdown's tables as HTML tables, its other lines as paragraphs. */
    private static String markdownTables(String md) {
        StringBuilder sb = new StringBuilder();
        boolean inTable = false;
        for (String line : md.split("\n")) {
            if (line.startsWith("|")) {
                if (line.startsWith("|---")) {
                    continue;
                }
                if (!inTable) {
                    sb.append("<table>");
                    inTable = true;
                }
                sb.append("<tr>");
                String[] cells = line.substring(1, line.length() - 1).split("\\|", -1);
                for (String c : cells) {
                    sb.append("<td>").append(escape(c.strip().replace("`", ""))).append("</td>");
                }
                sb.append("</tr>\n");
                continue;
            }
            if (inTable) {
                sb.append("</table>\n");
                inTable = false;
            }
            if (line.startsWith("### ")) {
                sb.append("<h3>").append(escape(line.substring(4))).append("</h3>\n");
            } else if (!line.isBlank()) {
                sb.append("<p>").append(escape(line.replace("**", "").replace("`", ""))).append("</p>\n");
            }
        }
        if (inTable) {
            sb.append("</table>\n");
        }
        return sb.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
