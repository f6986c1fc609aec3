package dev.lory4j.tensor;

import java.util.Locale;

/** PyTorch-like text form of a tensor: nested brackets, long dimensions elided to their first and last 3. */
final class TensorFormat {
    private TensorFormat() {}

    private static final int EDGE = 3;
    private static final int SUMMARY_THRESHOLD = 1000;

    static String format(Tensor t) {
        int[] shape = t.shape();
        boolean summarise = t.numel() > SUMMARY_THRESHOLD;
        float[] v = t.toArray();
        boolean sci = false;
        float maxAbs = 0;
        float minAbs = Float.POSITIVE_INFINITY;
        for (float x : v) {
            if (Float.isFinite(x) && x != 0) {
                maxAbs = Math.max(maxAbs, Math.abs(x));
                minAbs = Math.min(minAbs, Math.abs(x));
            }
        }
        if (maxAbs >= 1e5f || (minAbs < 1e-4f && maxAbs > 0)) {
            sci = true;
        }
        int width = 0;
        for (float x : v) {
            width = Math.max(width, number(x, sci).length());
        }
        StringBuilder sb = new StringBuilder("tensor(");
        append(sb, v, shape, 0, 0, summarise, sci, "tensor(".length(), width);
        return sb.append(", shape=").append(Shapes.str(shape)).append(')').toString();
    }

    private static void append(StringBuilder sb, float[] v, int[] shape, int dim, int base, boolean summarise,
                               boolean sci, int indent, int width) {
        if (dim == shape.length) {
            String num = number(v[base], sci);
            sb.append(" ".repeat(width - num.length())).append(num);
            return;
        }
        int n = shape[dim];
        int block = 1;
        for (int d = dim + 1; d < shape.length; d++) {
            block *= shape[d];
        }
        sb.append('[');
        for (int i = 0; i < n; i++) {
            if (summarise && n > 2 * EDGE && i == EDGE) {
                sb.append(dim == shape.length - 1 ? "..., " : "...,\n" + " ".repeat(indent + dim + 1));
                i = n - EDGE - 1;
                continue;
            }
            append(sb, v, shape, dim + 1, base + i * block, summarise, sci, indent, width);
            if (i < n - 1) {
                sb.append(dim == shape.length - 1 ? ", " : "," + "\n".repeat(shape.length - dim - 1)
                        + " ".repeat(indent + dim + 1));
            }
        }
        sb.append(']');
    }

    private static String number(float x, boolean sci) {
        if (Float.isNaN(x)) {
            return "nan";
        }
        if (Float.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        return String.format(Locale.ROOT, sci ? "%.4e" : "%.4f", x);
    }
}
