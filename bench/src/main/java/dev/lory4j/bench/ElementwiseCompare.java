package dev.lory4j.bench;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Softmax;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Our memory-bound kernels against {@code System.arraycopy}, in bytes moved per second. Bytes are the
 * logical traffic: each input read once plus the output written once (add: 12 bytes per element; exp, silu,
 * softmax: 8). The copy moves the output's length from the first input into the output (8 bytes per element),
 * so the ratio says how close a kernel comes to the speed of simply streaming memory.
 */
public final class ElementwiseCompare {
    private ElementwiseCompare() {}

    /** Row length of the softmax case (rows = size / cols). */
    public static final int SOFTMAX_COLS = 1024;

    /** The kernels compared. */
    public enum Op {
        ADD(12), EXP(8), SILU(8), SOFTMAX(8);

        /** Logical bytes moved per element. */
        public final int bytesPerElement;

        Op(int bytesPerElement) {
            this.bytesPerElement = bytesPerElement;
        }

        /** Lower-case name as used on the command line. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses a command-line name (case-insensitive). */
        public static Op parse(String s) {
            for (Op op : values()) {
                if (op.label().equalsIgnoreCase(s.strip())) {
                    return op;
                }
            }
            throw new IllegalArgumentException("--ops: unknown op '" + s + "' (known: add, exp, silu, softmax)");
        }
    }

    /** One measured row; {@code ratio} is the median per-pair ratio of our GB/s to the copy's GB/s. */
    public record Row(String op, int size, int threads, double oursGbps, double peerGbps, double ratio,
                      double ratioP25, double ratioP75, int pairs) {

        /** The row as a JSON object (keys op, size, threads, ours_gbps, peer_gbps, ratio). */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("op", op);
            m.put("size", size);
            m.put("threads", threads);
            m.put("ours_gbps", oursGbps);
            m.put("peer_gbps", peerGbps);
            m.put("ratio", ratio);
            return m;
        }

        /** One tab-separated line, exact in every field, for passing rows from a child JVM. */
        public String toLine() {
            return String.join("\t", op, Integer.toString(size), Integer.toString(threads),
                    Double.toString(oursGbps), Double.toString(peerGbps), Double.toString(ratio),
                    Double.toString(ratioP25), Double.toString(ratioP75), Integer.toString(pairs));
        }

        /** Inverse of {@link #toLine}. */
        public static Row fromLine(String line) {
            String[] f = line.split("\t", -1);
            if (f.length != 9) {
                throw new IllegalArgumentException("ElementwiseCompare.Row.fromLine: expected 9 tab-separated "
                        + "fields, got " + f.length + " in '" + line + "'");
            }
            return new Row(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]),
                    Double.parseDouble(f[7]), Integer.parseInt(f[8]));
        }
    }

    /** Checks and times one op at one size in this JVM; {@code threads} only labels the row. */
    public static Row run(Op op, int size, int threads, double warmupSeconds, double seconds) {
        if (op == Op.SOFTMAX && size % SOFTMAX_COLS != 0) {
            throw new IllegalArgumentException("--sizes: softmax needs a size divisible by " + SOFTMAX_COLS
                    + " (rows of " + SOFTMAX_COLS + "), got " + size);
        }
        float[] a = GemmCompare.random(size, 11);
        float[] b = GemmCompare.random(size, 12);
        float[] out = new float[size];
        Runnable ours = switch (op) {
            case ADD -> () -> Elementwise.binary(BinaryOp.ADD, a, 0, 1, b, 0, 1, out, 0, size);
            case EXP -> () -> Elementwise.unary(UnaryOp.EXP, a, 0, 1, out, 0, size);
            case SILU -> () -> Elementwise.unary(UnaryOp.SILU, a, 0, 1, out, 0, size);
            case SOFTMAX -> () -> Softmax.softmaxRows(a, 0, out, 0, size / SOFTMAX_COLS, SOFTMAX_COLS);
        };
        ours.run();
        check(op, a, b, out);
        Runnable peer = () -> System.arraycopy(a, 0, out, 0, size);
        PairTimer.Result r = PairTimer.compare(ours, peer, warmupSeconds, seconds, 5);
        double oursBytes = (double) op.bytesPerElement * size;
        double peerBytes = 8.0 * size;
        double scale = oursBytes / peerBytes;
        return new Row(op.label(), size, threads, oursBytes / r.oursNanos(), peerBytes / r.peerNanos(),
                r.ratio() * scale, r.ratioP25() * scale, r.ratioP75() * scale, r.pairs());
    }

    /** Spot-checks a few outputs so a broken kernel is not timed. */
    private static void check(Op op, float[] a, float[] b, float[] out) {
        for (int i : List.of(0, 1, a.length / 2, a.length - 1)) {
            double want = switch (op) {
                case ADD -> (double) a[i] + b[i];
                case EXP -> Math.exp(a[i]);
                case SILU -> a[i] / (1 + Math.exp(-a[i]));
                case SOFTMAX -> {
                    int row = i / SOFTMAX_COLS * SOFTMAX_COLS;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < SOFTMAX_COLS; j++) {
                        max = Math.max(max, a[row + j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < SOFTMAX_COLS; j++) {
                        sum += Math.exp(a[row + j] - max);
                    }
                    yield Math.exp(a[i] - max) / sum;
                }
            };
            if (!(Math.abs(out[i] - want) <= 1e-5 * Math.max(1, Math.abs(want)))) {
                throw new IllegalStateException("elementwise " + op.label() + ": element " + i + " is " + out[i]
                        + ", expected " + want + "; not timing a wrong kernel");
            }
        }
    }
}
