package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding (RoPE, the rotate-half form of Hugging Face's LLaMA) over rows of d = 2h floats, forward
 * and backward in one pass each. Row r sits at position {@code r % len} and is rotated with that row of the tables
 * cos, sin [len, d]: for j &lt; h,
 * <pre>
 *   out[j]     = u[j] cos[j]         − u[j + h] sin[j]
 *   out[j + h] = u[j + h] cos[j + h] + u[j] sin[j + h]
 * </pre>
 * (each product rounded, then the sum: the same operations as {@code u * cos + rotate_half(u) * sin} written with
 * tensor ops). The backward pass applies the transposed rotation to the output gradient g:
 * {@code du[j] = g[j] cos[j] + g[j + h] sin[j + h]}, {@code du[j + h] = g[j + h] cos[j + h] − g[j] sin[j]}.
 */
public final class Rotary {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private Rotary() {}

    /**
     * out[outOff + r*d ..] = the rotation of the row of u that starts at {@code rowStart[r]}, for every r; cos and sin
     * are [len, d] row-major from cosOff and sinOff.
     */
    public static void forward(float[] u, int[] rowStart, int len, int d, float[] cos, int cosOff, float[] sin,
                               int sinOff, float[] out, int outOff) {
        check("rope", d, len, rowStart.length);
        Rows.forRows(rowStart.length, d, r -> {
            int t = (r % len) * d;
            rotate(u, rowStart[r], cos, cosOff + t, sin, sinOff + t, out, outOff + r * d, d / 2, false);
        });
    }

    /**
     * du[duOff + r*d ..] = the transposed rotation of the output gradient's row r (g contiguous from gOff), for r
     * below {@code rows}; the tables as in {@link #forward}.
     */
    public static void backward(float[] g, int gOff, int rows, int len, int d, float[] cos, int cosOff, float[] sin,
                                int sinOff, float[] du, int duOff) {
        check("rope backward", d, len, rows);
        Rows.forRows(rows, d, r -> {
            int t = (r % len) * d;
            rotate(g, gOff + r * d, cos, cosOff + t, sin, sinOff + t, du, duOff + r * d, d / 2, true);
        });
    }

    /**
     * One row: x at xi rotated into o at oi; {@code transposed} rotates backwards (the gradient), reading sin at the
     * partner's index.
     */
    private static void rotate(float[] x, int xi, float[] cos, int ci, float[] sin, int si, float[] o, int oi, int h,
                               boolean transposed) {
        int lo = transposed ? si + h : si; // sin index multiplying x[j + h] into o[j]
        int hi = transposed ? si : si + h; // sin index multiplying x[j] into o[j + h]
        int j = 0;
        for (int bound = S.loopBound(h); j < bound; j += L) {
            FloatVector a = FloatVector.fromArray(S, x, xi + j);
            FloatVector b = FloatVector.fromArray(S, x, xi + h + j);
            FloatVector ca = FloatVector.fromArray(S, cos, ci + j);
            FloatVector cb = FloatVector.fromArray(S, cos, ci + h + j);
            FloatVector sLo = FloatVector.fromArray(S, sin, lo + j);
            FloatVector sHi = FloatVector.fromArray(S, sin, hi + j);
            if (transposed) {
                a.mul(ca).add(b.mul(sLo)).intoArray(o, oi + j);
                b.mul(cb).sub(a.mul(sHi)).intoArray(o, oi + h + j);
            } else {
                a.mul(ca).sub(b.mul(sLo)).intoArray(o, oi + j);
                b.mul(cb).add(a.mul(sHi)).intoArray(o, oi + h + j);
            }
        }
        for (; j < h; j++) {
            float a = x[xi + j];
            float b = x[xi + h + j];
            if (transposed) {
                o[oi + j] = a * cos[ci + j] + b * sin[lo + j];
                o[oi + h + j] = b * cos[ci + h + j] - a * sin[hi + j];
            } else {
                o[oi + j] = a * cos[ci + j] - b * sin[lo + j];
                o[oi + h + j] = b * cos[ci + h + j] + a * sin[hi + j];
            }
        }
    }

    private static void check(String op, int d, int len, int rows) {
        if (d <= 0 || d % 2 != 0 || len <= 0 || rows % len != 0) {
            throw new IllegalArgumentException(op + ": rows of " + d + " (want an even width) and " + rows
                    + " rows for tables of " + len + " positions (want a multiple)");
        }
    }
}
