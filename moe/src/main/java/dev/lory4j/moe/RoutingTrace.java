package dev.lory4j.moe;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * What the MoE layers did: for every recorded forward pass, the routing weights each layer used per
 * (row, segment), plus what the caller knows of each row (its domain, the documents and offsets of its tokens) and of
 * the pass (sequence length, segment length, routing mode), from which each entry gets a row id unique over the whole
 * trace, its token range and the segment whose tokens computed its weights. Tests, reports and the CLI read it.
 * Recording is off unless a trace is attached to the model; it copies the weights (no graph is kept).
 *
 * <p>A pass starts with {@link #setRows} (or {@link #setRowDomains}), or when a layer records a second time since the
 * last start (a forward pass records each layer once); its rows then get ids after all earlier passes' rows.
 */
public final class RoutingTrace {
    /**
     * The weights layer {@code layer} used for segment {@code segment} of row {@code row} of its pass.
     *
     * @param rowId       the row's id, unique over the whole trace (passes numbered in recording order)
     * @param document    ids of the documents the segment's tokens come from, joined by {@code |} (null: unknown)
     * @param docOffset   position of the segment's first token inside the first of those documents (-1: unknown)
     * @param tokenStart  first input position of the segment in its row (-1: unknown)
     * @param tokenEnd    one past its last input position (-1: unknown)
     * @param weightsFrom the segment whose tokens computed these weights (-1: unknown); with causal segment
     *                    routing segment s >= 1 uses segment s-1's, and segment 0 its own (under a stop-gradient), so
     *                    segments 0 and 1 carry the same weights
     */
    public record Entry(int layer, long rowId, int row, int segment, String domain, String document, int docOffset,
                        int tokenStart, int tokenEnd, int weightsFrom, float[] weights) {
        /** Whether the segment's weights were computed from its own tokens (segment 0 under causal routing). */
        public boolean ownTokens() {
            return weightsFrom == segment;
        }
    }

    /**
     * What the caller knows of one row: its domain and, per input position, the id of the document the token comes
     * from and the token's position inside that document (either array null: unknown).
     */
    public record Row(String domain, String[] documents, int[] offsets) {
        /** Checks that the arrays, when given, have one entry per position. */
        public Row {
            if (documents != null && offsets != null && documents.length != offsets.length) {
                throw new IllegalArgumentException("RoutingTrace.Row: " + documents.length + " document ids but "
                        + offsets.length + " offsets");
            }
        }

        /** A row of which only the domain is known (null: unknown too). */
        public static Row of(String domain) {
            return new Row(domain, null, null);
        }
    }

    private final List<Entry> entries = new ArrayList<>();
    private List<Row> rows = List.of();
    private int seqLen = -1;
    private int segmentLength = -1;
    private RoutingMode mode;
    private long passBase;
    private long passRows;
    private final java.util.Set<Integer> passLayers = new java.util.HashSet<>();

    /** Sets the domains of the rows of the next forward passes (null: unknown) and starts a pass. */
    public synchronized void setRowDomains(String[] domains) {
        List<Row> r = new ArrayList<>();
        if (domains != null) {
            for (String d : domains) {
                r.add(Row.of(d));
            }
        }
        setRows(r, -1, -1, null);
    }

    /**
     * Describes the rows of the next forward passes and starts a pass: each row's domain and documents, the input
     * length, the layers' segment length and routing mode (-1 or null where unknown: those columns stay empty).
     */
    public synchronized void setRows(List<Row> rows, int seqLen, int segmentLength, RoutingMode mode) {
        if (segmentLength == 0 || segmentLength < -1 || seqLen == 0 || seqLen < -1) {
            throw new IllegalArgumentException("RoutingTrace.setRows: sequence length " + seqLen + " and segment "
                    + "length " + segmentLength + " must be positive (or -1: unknown)");
        }
        this.rows = List.copyOf(rows);
        this.seqLen = seqLen;
        this.segmentLength = segmentLength;
        this.mode = mode;
        startPass();
    }

    private void startPass() {
        passBase += passRows;
        passRows = 0;
        passLayers.clear();
    }

    /** Records the [rows, segments, E] weights a layer used (row-major in {@code w}). */
    public synchronized void record(int layer, int rows, int segments, int experts, float[] w) {
        if (w.length != rows * segments * experts) {
            throw new IllegalArgumentException("RoutingTrace.record: " + w.length + " weights for [" + rows + ", "
                    + segments + ", " + experts + "] at layer " + layer);
        }
        if (!passLayers.add(layer)) { // this layer already recorded: a new forward pass
            startPass();
            passLayers.add(layer);
        }
        passRows = Math.max(passRows, Math.max(rows, this.rows.size()));
        for (int r = 0; r < rows; r++) {
            Row info = r < this.rows.size() ? this.rows.get(r) : Row.of(null);
            for (int s = 0; s < segments; s++) {
                float[] e = new float[experts];
                System.arraycopy(w, (r * segments + s) * experts, e, 0, experts);
                int start = tokenStart(s, segments);
                int end = start < 0 ? -1 : segments == 1 ? seqLen : Math.min(seqLen, start + segmentLength);
                entries.add(new Entry(layer, passBase + r, r, s, info.domain(), documents(info, start, end),
                        start >= 0 && info.offsets() != null && start < info.offsets().length ? info.offsets()[start]
                                : -1, start, end, weightsFrom(s), e));
            }
        }
    }

    /** The first input position of segment s of a pass with this many segments (-1: unknown). */
    private int tokenStart(int s, int segments) {
        if (seqLen < 0 || (segments > 1 && segmentLength < 0)) {
            return -1;
        }
        return segments == 1 ? 0 : s * segmentLength;
    }

    /** The segment whose tokens computed segment s's weights under the pass's routing mode (-1: unknown). */
    private int weightsFrom(int s) {
        if (mode == null) {
            return -1;
        }
        return switch (mode) {
            case CAUSAL_SEGMENT, PER_SEGMENT -> Math.max(0, s - 1);
            case PREFIX, PROMPT_ONLY -> 0;
        };
    }

    /** The distinct document ids of positions [start, end) of a row, in order, joined by '|' (null: unknown). */
    private static String documents(Row info, int start, int end) {
        if (start < 0 || info.documents() == null) {
            return null;
        }
        java.util.LinkedHashSet<String> ids = new java.util.LinkedHashSet<>();
        for (int i = start; i < Math.min(end, info.documents().length); i++) {
            if (info.documents()[i] != null) {
                ids.add(info.documents()[i]);
            }
        }
        return ids.isEmpty() ? null : String.join("|", ids);
    }

    /** All entries in recording order (read-only). */
    public synchronized List<Entry> entries() {
        return Collections.unmodifiableList(new ArrayList<>(entries));
    }

    /** The layers that recorded something, ascending. */
    public synchronized List<Integer> layers() {
        return entries.stream().map(Entry::layer).distinct().sorted().toList();
    }

    /** Forgets everything recorded. */
    public synchronized void clear() {
        entries.clear();
        passBase = 0;
        passRows = 0;
        passLayers.clear();
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

    /** How many segments of rows from {@code domain} (null: all rows) layer {@code layer} recorded. */
    public synchronized int count(int layer, String domain) {
        int n = 0;
        for (Entry e : entries) {
            if (e.layer() == layer && (domain == null || domain.equals(e.domain()))) {
                n++;
            }
        }
        return n;
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

    /** The CSV and JSON columns before the weights, in order (see docs/report-files.md). */
    public static final List<String> COLUMNS = List.of("row_id", "layer", "batch_row", "segment", "domain", "document",
            "doc_offset", "token_start", "token_end", "weights_from_segment", "own_tokens");

    /** The values of {@link #COLUMNS} of one entry (null where unknown). */
    private static List<Object> columns(Entry e) {
        return java.util.Arrays.asList(e.rowId(), e.layer(), e.row(), e.segment(), e.domain(), e.document(),
                known(e.docOffset()), known(e.tokenStart()), known(e.tokenEnd()), known(e.weightsFrom()),
                e.weightsFrom() < 0 ? null : e.ownTokens());
    }

    private static Integer known(int v) {
        return v < 0 ? null : v;
    }

    /** The entries as JSON: a list of objects with the {@link #COLUMNS} (null where unknown) and {@code weights}. */
    public synchronized String toJson() {
        List<Object> out = new ArrayList<>();
        for (Entry e : entries) {
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            List<Object> values = columns(e);
            for (int i = 0; i < COLUMNS.size(); i++) {
                m.put(COLUMNS.get(i), values.get(i));
            }
            List<Object> w = new ArrayList<>();
            for (float x : e.weights()) {
                w.add(x);
            }
            m.put("weights", w);
            out.add(m);
        }
        return dev.lory4j.autograd.io.Json.write(out);
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

    /**
     * The entries as CSV: the {@link #COLUMNS}, then w0..wE-1; empty where unknown; a document field holding a comma
     * or quote is quoted (RFC 4180).
     */
    public synchronized String toCsv() {
        StringBuilder sb = new StringBuilder(String.join(",", COLUMNS));
        int experts = entries.isEmpty() ? 0 : entries.get(0).weights().length;
        for (int i = 0; i < experts; i++) {
            sb.append(",w").append(i);
        }
        sb.append('\n');
        for (Entry e : entries) {
            List<Object> values = columns(e);
            for (int i = 0; i < values.size(); i++) {
                sb.append(i == 0 ? "" : ",").append(csvField(values.get(i)));
            }
            for (float w : e.weights()) {
                sb.append(',').append(String.format(Locale.ROOT, "%.6f", w));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String csvField(Object v) {
        String s = v == null ? "" : v.toString();
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
