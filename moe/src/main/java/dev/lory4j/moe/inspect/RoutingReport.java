package dev.lory4j.moe.inspect;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.LoryLayer;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a Lory model's routing shows on some text: the routing weights recorded per layer, segment and domain
 * ({@link RoutingTrace}), and the HTML sections that show them (mean weights per domain on one colour scale, each
 * domain's deviation from the layer's mean, the mutual information between domain and expert, expert usage, the
 * distances between experts, and routing on real documents). The demo's report and {@code lory4j inspect} share it.
 */
public final class RoutingReport {
    private RoutingReport() {}

    /** The page's style: responsive charts, readable tables, shaded text. */
    static final String STYLE = "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
            + "color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 10px;"
            + "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}.grid{display:flex;flex-wrap:wrap;"
            + "gap:12px}.grid>svg{flex:1 1 260px}svg{height:auto}.how{color:#555;font-size:.92em;margin-top:.2em}"
            + ".text{font-family:monospace;white-space:pre-wrap;line-height:1.6;border:1px solid #ddd;padding:.6em;"
            + "max-height:18em;overflow:auto}.legend span{display:inline-block;padding:0 .5em;margin:0 .2em}"
            + ".note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}</style>";

    /**
     * The routing weights of {@code model} on these batches (domain of each row as the batch gives it), with causal
     * segment routing as in training; the model's modes are restored afterwards.
     */
    public static RoutingTrace trace(MoeModel model, Map<String, List<Batch>> batches) {
        List<LabelledBatch> labelled = new ArrayList<>();
        batches.values().forEach(list -> list.forEach(b -> labelled.add(LabelledBatch.of(b))));
        return trace(model, labelled);
    }

    /**
     * The routing weights of {@code model} on these batches with what is known of their rows (documents, offsets),
     * with causal segment routing as in training; the model's modes are restored afterwards.
     */
    public static RoutingTrace trace(MoeModel model, List<LabelledBatch> batches) {
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
            for (LabelledBatch lb : batches) {
                Batch b = lb.batch();
                trace.setRows(lb.rows(), b.seqLen(), model.config().segmentLength(), RoutingMode.CAUSAL_SEGMENT);
                boolean ran = compiled != null && Arrays.stream(b.targets()).anyMatch(t -> t != DecoderLM.IGNORE_INDEX)
                        && compiled.compiledLoss("trace " + b.batch() + "x" + b.seqLen(), model.lm().parameters(),
                                Map.of("tokens", b.tokens(), "targets", b.targets()),
                                () -> model.lm().forward(b.tokens(), b.batch(), b.seqLen())
                                        .crossEntropy(b.targets(), DecoderLM.IGNORE_INDEX)) != null;
                if (!ran) {
                    model.lm().forward(b.tokens(), b.batch(), b.seqLen());
                }
            }
        } finally {
            model.setTrace(null);
            model.lm().train(wasTraining);
            model.setRoutingMode(wasRouting);
        }
        return trace;
    }

    /**
     * Writes {@code report.html}, {@code routing.csv} and {@code routing.json} into {@code dir}, with routing on the
     * start of each of {@code samples} (may be empty; {@code length} tokens at most); returns the page.
     */
    public static Path write(Path dir, String title, MoeModel model, RoutingTrace trace, List<String> domains,
                             List<Document> samples, Tokenizer tokenizer, int length) throws IOException {
        Files.createDirectories(dir);
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width,"
                + "initial-scale=1'><title>").append(Svg.esc(title)).append("</title>").append(STYLE)
                .append("</head><body><h1>").append(Svg.esc(title)).append("</h1>");
        h.append(sections(model, trace, domains));
        h.append(documentSection(model, samples, tokenizer, length));
        h.append("<p>Files beside this report: <code>routing.csv</code> and <code>routing.json</code> (every routing "
                + "decision; columns in docs/report-files.md).</p></body></html>");
        Files.writeString(dir.resolve("routing.csv"), trace.toCsv());
        Files.writeString(dir.resolve("routing.json"), trace.toJson());
        Path file = dir.resolve("report.html");
        Files.writeString(file, h.toString());
        return file;
    }

    /** What one layer's routing shows per domain: mean weights, segment counts, deviations and mutual information. */
    public record LayerView(int layer, double[][] meanWeights, double[] segments, double[][] specialisation,
                            double mutualInformationBits) {}

    /** The per-domain view of every layer the trace recorded ({@code experts} weights each). */
    public static List<LayerView> layerViews(RoutingTrace trace, int experts, List<String> domains) {
        List<LayerView> out = new ArrayList<>();
        for (int l : trace.layers()) {
            double[][] mean = new double[domains.size()][];
            double[] mass = new double[domains.size()];
            for (int d = 0; d < domains.size(); d++) {
                mean[d] = trace.meanWeights(l, domains.get(d), experts);
                mass[d] = trace.count(l, domains.get(d)); // 0: NaN weights, left out of the statistics
            }
            out.add(new LayerView(l, mean, mass, RoutingStats.specialisation(mean, mass),
                    RoutingStats.mutualInformationBits(mean, mass)));
        }
        return out;
    }

    /** The mutual information (bits) between domain and expert of each recorded layer, keyed "layer N". */
    public static Map<String, Double> mutualInformation(RoutingTrace trace, int experts, List<String> domains) {
        Map<String, Double> out = new LinkedHashMap<>();
        layerViews(trace, experts, domains).forEach(v -> out.put("layer " + v.layer(), v.mutualInformationBits()));
        return out;
    }

    /**
     * The routing sections of a report: mean weights per layer and domain on one scale, specialisation relative to
     * each layer's mean with the mutual information, expert usage, and expert distances.
     */
    public static String sections(MoeModel model, RoutingTrace trace, List<String> domains) {
        int experts = model.config().numExperts();
        List<String> cols = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            cols.add("e" + e);
        }
        List<LayerView> views = layerViews(trace, experts, domains);
        StringBuilder h = new StringBuilder();

        double[] wr = RoutingStats.range(views.stream().map(LayerView::meanWeights).toList());
        Svg.Scale weights = Svg.Scale.sequential(0, Double.isNaN(wr[1]) ? 1 : wr[1], "mean routing weight (one scale "
                + "for all layers; uniform = 1/E = " + Svg.num(1.0 / experts) + ")");
        h.append("<h2>Routing weights per layer and domain</h2><div class='grid'>");
        views.forEach(v -> h.append(Svg.heatmap("layer " + v.layer(), domains, cols, v.meanWeights(), weights)));
        h.append("</div>").append(Svg.colourBar(weights)).append("<p class='how'>How to read: each cell is the mean "
                + "weight an expert gets over the held-out segments of a domain (causal segment routing, as in "
                + "training), all layers on the colour bar's one scale, so a flat layer looks pale everywhere and a "
                + "column dark in every row is an expert popular in all domains, not a domain preference.</p>");

        double[] sr = RoutingStats.range(views.stream().map(LayerView::specialisation).toList());
        double maxDev = Double.isNaN(sr[0]) ? 0 : Math.max(Math.abs(sr[0]), Math.abs(sr[1]));
        Svg.Scale dev = Svg.Scale.diverging(maxDev, "weight − the layer's mean weight of that expert");
        h.append("<h2>Specialisation: each domain against its layer's mean</h2><div class='grid'>");
        views.forEach(v -> h.append(Svg.heatmap(String.format(Locale.ROOT, "layer %d (MI %s bits)", v.layer(),
                Svg.num(v.mutualInformationBits())), domains, cols, v.specialisation(), dev)));
        h.append("</div>").append(Svg.colourBar(dev)).append("<p class='how'>How to read: a cell is a domain's mean "
                + "weight for an expert minus that expert's mean weight over all segments of the layer (domains "
                + "weighted by their segment counts); red means the domain gives the expert more weight than the "
                + "layer does on average, blue less, white no preference.</p>");
        h.append("<table><tr><th class='l'>layer</th><th>I(domain; expert), bits</th><th>upper bound, bits</th></tr>");
        double bound = Math.log(Math.min(domains.size(), experts)) / Math.log(2);
        views.forEach(v -> h.append("<tr><td class='l'>").append(v.layer()).append("</td><td>")
                .append(String.format(Locale.ROOT, "%.4f", v.mutualInformationBits())).append("</td><td>")
                .append(Svg.num(bound)).append("</td></tr>"));
        h.append("</table><p class='how'>How to read: the mutual information between domain and expert, in bits, of "
                + "the joint distribution p(domain, expert) = p(domain) · mean weight(domain, expert), with p(domain) "
                + "the domain's share of the segments; 0 means every domain routes alike, log2 min(D, E) would mean "
                + "each domain has experts of its own.</p>");

        h.append("<h2>Expert usage</h2><p class='note'>Under soft merging every expert always contributes to every "
                + "segment, with its weight: a share near zero means the expert's weight is small (at most 2/E), not "
                + "that the expert is idle or unused.</p>");
        double[][] usage = new double[views.size()][];
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < views.size(); i++) {
            int l = views.get(i).layer();
            usage[i] = trace.usage(l, experts);
            rows.add(String.format(Locale.ROOT, "layer %d (H %.2f)", l, trace.meanEntropy(l)));
        }
        Svg.Scale share = Svg.Scale.sequential(0, 1, "share of segments with weight > 2/E");
        h.append("<div class='grid'>").append(Svg.heatmap("weight above 2/E", rows, cols, usage, share))
                .append("</div>").append(Svg.colourBar(share)).append("<p class='how'>How to read: the share of "
                        + "held-out segments in which an expert's weight exceeds 2/E (the paper's activation "
                        + "criterion); H is the mean entropy of the routing weights in nats (ln E = ")
                .append(String.format(Locale.ROOT, "%.3f", Math.log(experts))).append(" is uniform).</p>");

        List<Integer> loryIndex = new ArrayList<>();
        for (int l = 0; l < model.config().decoder().numLayers(); l++) {
            if (model.config().isMoeLayer(l)) {
                loryIndex.add(l);
            }
        }
        List<LoryLayer> lory = model.loryLayers();
        if (!lory.isEmpty()) {
            List<double[][]> dist = lory.stream().map(l -> RoutingStats.expertDistance(l.experts())).toList();
            double[] dr = RoutingStats.range(dist);
            Svg.Scale scale = Double.isNaN(dr[0]) ? Svg.Scale.sequential(0, 1, "1 − cosine similarity")
                    : Svg.Scale.sequential(dr[0], dr[1], "1 − cosine similarity (range of the off-diagonal values)");
            h.append("<h2>How far the experts moved apart</h2><div class='grid'>");
            for (int i = 0; i < lory.size(); i++) {
                h.append(Svg.heatmap("layer " + loryIndex.get(i), cols, cols, dist.get(i), scale));
            }
            h.append("</div>").append(Svg.colourBar(scale)).append("<p class='how'>How to read: 1 − the cosine "
                    + "similarity of two experts' weights (all three matrices flattened); right after upcycling every "
                    + "pair is 0, larger means the experts grew apart; the colours span the smallest to the largest "
                    + "off-diagonal value of all layers, and the diagonal is left blank.</p>");
        }
        return h.toString();
    }

    /**
     * The routing on real text: for each document, its start with each segment shaded by its dominant expert in the
     * last MoE layer, and a segments × layers strip of all the weights. Empty when there are no documents.
     */
    public static String documentSection(MoeModel model, List<Document> docs, Tokenizer tokenizer, int length) {
        if (docs.isEmpty()) {
            return "";
        }
        int experts = model.config().numExperts();
        int t = model.config().segmentLength();
        StringBuilder h = new StringBuilder("<h2>Routing on held-out documents</h2><p class='legend'>Experts: ");
        for (int e = 0; e < experts; e++) {
            h.append("<span style='background:").append(Svg.expertColour(e, experts, 0.45)).append("'>e").append(e)
                    .append("</span>");
        }
        h.append("</p><p class='how'>How to read: the text is cut into segments of ").append(t).append(" tokens; each "
                + "segment's background is the colour of the expert with the largest weight in the last MoE layer, "
                + "stronger the larger that weight (pale: close to uniform); hover for all weights. With causal "
                + "segment routing a segment's weights are computed from the segment before it (segment 0 from "
                + "itself). The strip below each text shows every layer: one column per segment, stacked by "
                + "the experts' weights.</p>");
        for (Document doc : docs) {
            LabelledBatch lb = LabelledBatch.document(doc, tokenizer, length);
            if (lb == null) {
                continue;
            }
            RoutingTrace trace = trace(model, List.of(lb));
            List<Integer> layers = trace.layers();
            if (layers.isEmpty()) {
                continue;
            }
            int segments = (lb.batch().seqLen() + t - 1) / t;
            float[][][] w = new float[layers.size()][segments][];
            for (RoutingTrace.Entry e : trace.entries()) {
                w[layers.indexOf(e.layer())][e.segment()] = e.weights();
            }
            h.append("<h3>").append(Svg.esc(doc.id())).append(" <small>(").append(Svg.esc(doc.domain()))
                    .append(")</small></h3><div class='text'>");
            int[] tokens = lb.batch().tokens();
            float[][] last = w[layers.size() - 1];
            for (int s = 0; s < segments; s++) {
                int dominant = argmax(last[s]);
                double strength = (last[s][dominant] - 1.0 / experts) / (1 - 1.0 / experts);
                h.append("<span style='background:").append(Svg.expertColour(dominant, experts,
                                0.12 + 0.6 * Math.max(0, strength))).append("' title='segment ").append(s)
                        .append(", weights from segment ").append(Math.max(0, s - 1)).append(":");
                for (int e = 0; e < experts; e++) {
                    h.append(" e").append(e).append(' ').append(Svg.num(last[s][e]));
                }
                h.append("'>").append(Svg.esc(tokenizer.decode(tokens, s * t, Math.min(tokens.length, (s + 1) * t))))
                        .append("</span>");
            }
            h.append("</div>");
            h.append(Svg.weightStrip("routing weights of " + doc.id() + " (columns: segments)",
                    layers.stream().map(l -> "layer " + l).toList(), w));
        }
        return h.toString();
    }

    /**
     * Up to one document per domain to show routing on: of each domain (in order of first appearance) the first
     * document with at least {@code minChars} characters, else its longest.
     */
    public static List<Document> samples(List<Document> docs, int minChars) {
        Map<String, Document> pick = new LinkedHashMap<>();
        for (Document d : docs) {
            Document had = pick.get(d.domain());
            boolean hadEnough = had != null && had.text().length() >= minChars;
            if (had == null || (!hadEnough && d.text().length() > had.text().length())) {
                pick.put(d.domain(), d);
            }
        }
        return new ArrayList<>(pick.values());
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
