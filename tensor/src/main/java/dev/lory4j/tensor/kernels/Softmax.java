package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Softmax and log-softmax over the rows of a contiguous row-major matrix, numerically stable (max subtracted). */
public final class Softmax {
    private Softmax() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** out row r = softmax(x row r) for {@code rows} rows of {@code cols}; out may alias x. */
    public static void softmaxRows(float[] x, int xOff, float[] out, int outOff, int rows, int cols) {
        Rows.forRows(rows, cols, r -> softmaxRow(x, xOff + r * cols, out, outOff + r * cols, cols, false));
    }

    /** out row r = log_softmax(x row r) for {@code rows} rows of {@code cols}; out may alias x. */
    public static void logSoftmaxRows(float[] x, int xOff, float[] out, int outOff, int rows, int cols) {
        Rows.forRows(rows, cols, r -> softmaxRow(x, xOff + r * cols, out, outOff + r * cols, cols, true));
    }

    /**
     * out[oo..oo+n) = (log-)softmax of x[xo..xo+n) (out may alias x); returns the log of the denominator,
     * max + log Σ exp(x - max).
     */
    static float softmaxRow(float[] x, int xo, float[] out, int oo, int n, boolean log) {
        if (n == 0) {
            return Float.NEGATIVE_INFINITY;
        }
        float max = Reduce.max(x, xo, n);
        if (max == Float.NEGATIVE_INFINITY) {
            max = 0; // an all -inf row: exp gives 0 everywhere and the result is NaN, as in PyTorch
        }
        FloatVector vmax = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int bound = S.loopBound(n);
        if (log) {
            for (; i < bound; i += L) {
                acc = acc.add(VMath.exp(FloatVector.fromArray(S, x, xo + i).sub(vmax)));
            }
            float sum = VMath.sumLanes(acc);
            for (; i < n; i++) {
                sum += (float) Math.exp(x[xo + i] - max);
            }
            float shift = max + (float) Math.log(sum);
            FloatVector vs = FloatVector.broadcast(S, shift);
            for (i = 0; i < bound; i += L) {
                FloatVector.fromArray(S, x, xo + i).sub(vs).intoArray(out, oo + i);
            }
            for (; i < n; i++) {
                out[oo + i] = x[xo + i] - shift;
            }
            return shift;
        } else {
            for (; i < bound; i += L) {
                FloatVector e = VMath.exp(FloatVector.fromArray(S, x, xo + i).sub(vmax));
                e.intoArray(out, oo + i);
                acc = acc.add(e);
            }
            float sum = VMath.sumLanes(acc);
            for (; i < n; i++) {
                float e = (float) Math.exp(x[xo + i] - max);
                out[oo + i] = e;
                sum += e;
            }
            Elementwise.scale(1 / sum, out, oo, n);
            return max + (float) Math.log(sum);
        }
    }

    /**
     * Causal softmax over rows of {@code cols} keys, in blocks of {@code blockRows} query rows aligned to the last
     * keys: row r (query q = r mod blockRows) normalises its first q + cols - blockRows + 1 entries and writes 0
     * to the rest (the masked future), so no mask tensor is ever built.
     */
    public static void causalSoftmaxRows(float[] x, int xOff, float[] out, int outOff, int rows, int cols,
                                         int blockRows) {
        int shift = cols - blockRows;
        Rows.forRows(rows, cols, r -> {
            int valid = Math.min(cols, r % blockRows + shift + 1);
            int o = outOff + r * cols;
            softmaxRow(x, xOff + r * cols, out, o, valid, false);
            java.util.Arrays.fill(out, o + valid, o + cols, 0f);
        });
    }

    /** Softmax backward over rows: dx = scale * y * (dy - sum(dy * y)) for rows of {@code cols}. */
    public static void backwardRows(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff, int rows,
                                    int cols, float scale) {
        Rows.forRows(rows, cols, r -> {
            int yo = yOff + r * cols;
            int go = dyOff + r * cols;
            int xo = dxOff + r * cols;
            float dot = Dots.dot(y, yo, dy, go, cols);
            FloatVector vdot = FloatVector.broadcast(S, dot);
            FloatVector vs = FloatVector.broadcast(S, scale);
            int i = 0;
            int bound = S.loopBound(cols);
            for (; i < bound; i += L) {
                FloatVector.fromArray(S, dy, go + i).sub(vdot).mul(FloatVector.fromArray(S, y, yo + i)).mul(vs)
                        .intoArray(dx, xo + i);
            }
            for (; i < cols; i++) {
                dx[xo + i] = (dy[go + i] - dot) * y[yo + i] * scale;
            }
        });
    }
}
