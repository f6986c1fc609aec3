package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** RMSNorm and LayerNorm over the rows of a contiguous row-major matrix. */
public final class Norms {
    private Norms() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /**
     * out row = x row * rsqrt(mean(x row^2) + eps) * weight (weight may be null for no scale). When
     * {@code rstd} is non-null, rstd[rstdOff + r] receives each row's reciprocal RMS (for the backward pass).
     */
    public static void rmsNormRows(float[] x, int xOff, float[] weight, int wOff, float eps, float[] out, int outOff,
                                   int rows, int cols, float[] rstd, int rstdOff) {
        Rows.forRows(rows, cols, r -> {
            int xo = xOff + r * cols;
            float ms = Reduce.sumSquaredDeviation(x, xo, cols, 0f) / cols;
            float inv = (float) (1 / Math.sqrt(ms + eps));
            if (rstd != null) {
                rstd[rstdOff + r] = inv;
            }
            scaleShift(x, xo, 0f, inv, weight, wOff, null, 0, out, outOff + r * cols, cols);
        });
    }

    /**
     * out row = (x row - mean) * rsqrt(var + eps) * weight + bias, with the biased variance; weight and bias may
     * be null. When non-null, mean/rstd receive each row's mean and reciprocal standard deviation.
     */
    public static void layerNormRows(float[] x, int xOff, float[] weight, int wOff, float[] bias, int bOff, float eps,
                                     float[] out, int outOff, int rows, int cols,
                                     float[] mean, float[] rstd, int statOff) {
        Rows.forRows(rows, cols, r -> {
            int xo = xOff + r * cols;
            float mu = Reduce.sum(x, xo, cols) / cols;
            float var = Reduce.sumSquaredDeviation(x, xo, cols, mu) / cols;
            float inv = (float) (1 / Math.sqrt(var + eps));
            if (mean != null) {
                mean[statOff + r] = mu;
            }
            if (rstd != null) {
                rstd[statOff + r] = inv;
            }
            scaleShift(x, xo, mu, inv, weight, wOff, bias, bOff, out, outOff + r * cols, cols);
        });
    }

    /** out[i] = (x[i] - center) * scale * w[i] + b[i], with w and b optional. */
    private static void scaleShift(float[] x, int xo, float center, float scale, float[] w, int wo,
                                   float[] b, int bo, float[] out, int oo, int n) {
        FloatVector vc = FloatVector.broadcast(S, center);
        FloatVector vs = FloatVector.broadcast(S, scale);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector y = FloatVector.fromArray(S, x, xo + i).sub(vc).mul(vs);
            if (w != null) {
                y = y.mul(FloatVector.fromArray(S, w, wo + i));
            }
            if (b != null) {
                y = y.add(FloatVector.fromArray(S, b, bo + i));
            }
            y.intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float y = (x[xo + i] - center) * scale;
            if (w != null) {
                y *= w[wo + i];
            }
            if (b != null) {
                y += b[bo + i];
            }
            out[oo + i] = y;
        }
    }
}
