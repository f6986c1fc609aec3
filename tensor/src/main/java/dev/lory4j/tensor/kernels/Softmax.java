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

    private static void softmaxRow(float[] x, int xo, float[] out, int oo, int n, boolean log) {
        if (n == 0) {
            return;
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
                acc = acc.add(FloatVector.fromArray(S, x, xo + i).sub(vmax).lanewise(VectorOperators.EXP));
            }
            float sum = acc.reduceLanes(VectorOperators.ADD);
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
        } else {
            for (; i < bound; i += L) {
                FloatVector e = FloatVector.fromArray(S, x, xo + i).sub(vmax).lanewise(VectorOperators.EXP);
                e.intoArray(out, oo + i);
                acc = acc.add(e);
            }
            float sum = acc.reduceLanes(VectorOperators.ADD);
            for (; i < n; i++) {
                float e = (float) Math.exp(x[xo + i] - max);
                out[oo + i] = e;
                sum += e;
            }
            Elementwise.scale(1 / sum, out, oo, n);
        }
    }
}
