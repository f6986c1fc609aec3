package dev.lory4j.moe.inspect;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.tensor.spi.Backends;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a Lory model's routing shows on some text: the routing weights recorded per layer, segment and domain
 * ({@link RoutingTrace}), and an HTML page of heat maps (mean weight per expert and domain, expert usage, how far the
 * experts moved apart). The demo's report and {@code lory4j inspect} share it.
 */
public final class RoutingReport {
    private RoutingReport() {}

    /**
     * The routing weights of {@code model} on these batches (domain of each row as the batch gives it), with causal
     * segment routing as in training; the model's modes are restored afterwards.
     */
    public static RoutingTrace trace(MoeModel model, Map<String, List<Batch>> batches) {
        RoutingTrace trace = new RoutingTrace();
        boolean wasTraining = model.isTraining();
        RoutingMode wasRouting = model.routingMode();
        model.setTrace(trace);
        model.lm().eval();
        model.setRoutingMode(RoutingMode.CAUSAL_SEGMENT);
        // Where the backend compiles captured steps, each batch shape runs as one compiled pass whose routing weights
        // are its outputs (the loss is computed too: one float); elsewhere the passes run op by op.
        CapturedSteps compiled = CapturedSteps.compilerFor(Backends.current()) != null ? new CapturedSteps() : null;
        try (NoGrad ng = NoGrad.enter()) {
            for (List<Batch> list : batches.values()) {
                for (Batch b : list) {
                    trace.setRowDomains(b.domains());
                    boolean ran = compiled != null && Arrays.stream(b.targets()).anyMatch(t -> t != DecoderLM.IGNORE_INDEX)
                            && compiled.compiledLoss("trace " + b.batch() + "x" + b.seqLen(), model.lm().parameters(),
                                    Map.of("tokens", b.tokens(), "targets", b.targets()),
                                    () -> model.lm().forward(b.tokens(), b.batch(), b.seqLen())
                                            .crossEntropy(b.targets(), DecoderLM.IGNORE_INDEX)) != null;
                    if (!ran) {
                        model.lm().forward(b.tokens(), b.batch(), b.seqLen());
                    }
                }
            }
        } finally {
            model.setTrace(null);
            model.lm().train(wasTraining);
            model.setRoutingMode(wasRouting);
        }
        return trace;
    }

    /** Writes {@code report.html}, {@code routing.csv} and {@code routing.json} into {@code dir}; returns the page. */
    public static Path write(Path dir, String title, MoeModel model, RoutingTrace trace, List<String> domains)
            throws IOException {
        Files.createDirectories(dir);
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset='utf-8'><title>").append(escape(title))
                .append("</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}")
                .append(".grid{display:flex;flex-wrap:wrap;gap:12px}</style></head><body><h1>")
                .append(escape(title)).append("</h1>");
        int layers = model.config().decoder().numLayers();
        h.append(sections(model, trace, layers, model.config().numExperts(), domains));
        h.append("<p>Files beside this report: <code>routing.csv</code> and <code>routing.json</code> (every routing "
                + "decision).</p></body></html>");
        Files.writeString(dir.resolve("routing.csv"), trace.toCsv());
        Files.writeString(dir.resolve("routing.json"), trace.toJson());
        Path file = dir.resolve("report.html");
        Files.writeString(file, h.toString());
        return file;
    }

    /** The routing sections of a report: heat maps per layer and domain, expert usage and expert distances. */
    public static String sections(MoeModel model, RoutingTrace trace, int layers, int experts, List<String> domains) {
        StringBuilder h = new StringBuilder();
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
        List<dev.lory4j.moe.LoryLayer> loryLayers = model.loryLayers();
        if (!loryLayers.isEmpty()) {
            h.append("</div><h2>How far the experts moved apart</h2><p>Cosine similarity of expert pairs over their "
                    + "merged-able weights (all three matrices). Right after upcycling every pair is 1.00; lower means "
                    + "the experts have specialised.</p><div class='grid'>");
            for (int l = 0; l < loryLayers.size(); l++) {
                double[][] sim = RoutingTrace.expertSimilarity(loryLayers.get(l).experts());
                h.append(Svg.heatmap("layer " + l, cols, cols, sim, 1.0));
            }
        }
        h.append("</div>");
        return h.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
