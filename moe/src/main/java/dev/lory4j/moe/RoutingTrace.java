package dev.lory4j.moe;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * What the MoE layers did: for every recorded forward pass, the routing weights each layer used per
 * (row, segment), plus the domain of each row when the caller knows it. Tests, reports and the CLI read it.
 * Recording is off unless a trace is attached to the model; it copies the weights (no graph is kept).
 */
public final class RoutingTrace {
    /** The weights layer {@code layer} used for segment {@code segment} of row {@code row}. */
    public record Entry(int layer, int row, int segment, String domain, float[] weights) {}

    private final List<Entry> entries = new ArrayList<>();
    private String[] rowDomains;

    /** Sets the domains of the rows of the next forward passes (null: unknown). */
    public synchronized void setRowDomains(String[] domains) {
        this.rowDomains = domains == null ? null : domains.clone();
    }

    /** Records the [rows, segments, E] weights a layer used (row-major in {@code w}). */
    public synchronized void record(int layer, int rows, int segments, int experts, float[] w) {
        for (int r = 0; r < rows; r++) {
            String domain = rowDomains != null && r < rowDomains.length ? rowDomains[r] : null;
            for (int s = 0; s < segments; s++) {
                float[] e = new float[experts];
                System.arraycopy(w, (r * segments + s) * experts, e, 0, experts);
                entries.add(new Entry(layer, r, s, domain, e));
            }
        }
    }

    /** All entries in recording order (read-only). */
    public synchronized List<Entry> entries() {
        return Collections.unmodifiableList(new ArrayList<>(entries));
    }

    /** Forgets everything recorded. */
    public synchronized void clear() {
        entries.clear();
    }

    /**
     * Expert usage of one layer (spec §7.5): the fraction of recorded segments in which each expert's weight
     * exceeds 2/E.
     */
    public synchronized double[] usage(int layer, int experts) {
        double[] used = new double[experts];
        int n = 0;
        for (Entry e : entries) {
            if (e.layer() != layer) {
                continue;
            }
            n++;
            for (int i = 0; i < experts; i++) {
                if (e.weights()[i] > 2.0 / experts) {
                    used[i]++;
                }
            }
        }
        for (int i = 0; i < experts; i++) {
            used[i] = n == 0 ? 0 : used[i] / n;
        }
        return used;
    }

    /** Mean routing weights of one layer over the segments of rows from {@code domain} (null: all rows). */
    public synchronized double[] meanWeights(int layer, String domain, int experts) {
        double[] mean = new double[experts];
        int n = 0;
        for (Entry e : entries) {
            if (e.layer() == layer && (domain == null || domain.equals(e.domain()))) {
                n++;
                for (int i = 0; i < experts; i++) {
                    mean[i] += e.weights()[i];
                }
            }
        }
        for (int i = 0; i < experts; i++) {
            mean[i] = n == 0 ? Double.NaN : mean[i] / n;
        }
        return mean;
    }

    /** Mean entropy (nats) of the routing distributions of one layer. */
    public synchronized double meanEntropy(int layer) {
        double total = 0;
        int n = 0;
        for (Entry e : entries) {
            if (e.layer() == layer) {
                n++;
                for (float w : e.weights()) {
                    if (w > 0) {
                        total -= w * Math.log(w);
                    }
                }
            }
        }
        return n == 0 ? Double.NaN : total / n;
    }

    /** The entries as JSON: a list of {layer, row, segment, domain, weights}. */
    public synchronized String toJson() {
        List<Object> rows = new ArrayList<>();
        for (Entry e : entries) {
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("layer", e.layer());
            m.put("row", e.row());
            m.put("segment", e.segment());
            m.put("domain", e.domain());
            List<Object> w = new ArrayList<>();
            for (float x : e.weights()) {
                w.add(x);
            }
            m.put("weights", w);
            rows.add(m);
        }
        return dev.lory4j.autograd.io.Json.write(rows);
    }

    /**
     * Merged-weight statistics of a layer's experts: the cosine similarity of every pair of experts over their
     * three flattened matrices ([E, E]; 1 everywhere right after upcycling, falling as experts specialise).
     */
    public static double[][] expertSimilarity(ExpertBank bank) {
        int e = bank.count();
        double[][] dot = new double[e][e];
        for (dev.lory4j.autograd.Var p : new dev.lory4j.autograd.Var[] {bank.gate(), bank.up(), bank.down()}) {
            dev.lory4j.tensor.Tensor flat = p.data().reshape(e, -1);
            dev.lory4j.tensor.Tensor gram = flat.matmul(flat.t());
            for (int i = 0; i < e; i++) {
                for (int j = 0; j < e; j++) {
                    dot[i][j] += gram.get(i, j);
                }
            }
        }
        double[][] cos = new double[e][e];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                cos[i][j] = dot[i][j] / Math.sqrt(dot[i][i] * dot[j][j]);
            }
        }
        return cos;
    }

    /** The entries as CSV: layer,row,segment,domain,w0,...,wE-1. */
    public synchronized String toCsv() {
        StringBuilder sb = new StringBuilder("layer,row,segment,domain");
        int experts = entries.isEmpty() ? 0 : entries.get(0).weights().length;
        for (int i = 0; i < experts; i++) {
            sb.append(",w").append(i);
        }
        sb.append('\n');
        for (Entry e : entries) {
            sb.append(e.layer()).append(',').append(e.row()).append(',').append(e.segment()).append(',')
                    .append(e.domain() == null ? "" : e.domain());
            for (float w : e.weights()) {
                sb.append(',').append(String.format(Locale.ROOT, "%.6f", w));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
