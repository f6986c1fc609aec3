package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Row reductions over contiguous runs: sum, max, min, argmax, and the sum of squares. */
public final class Reduce {
    private Reduce() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Sum of x[off .. off+n), with two vector accumulators (lanes reduced once at the end). */
    public static float sum(float[] x, int off, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        int i = 0;
        int bound2 = n - 2 * L + 1;
        for (; i < bound2; i += 2 * L) {
            acc0 = acc0.add(FloatVector.fromArray(S, x, off + i));
            acc1 = acc1.add(FloatVector.fromArray(S, x, off + i + L));
        }
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            acc0 = acc0.add(FloatVector.fromArray(S, x, off + i));
        }
        float s = VMath.sumLanes(acc0.add(acc1));
        for (; i < n; i++) {
            s += x[off + i];
        }
        return s;
    }

    /** Sum of (x[i] - center)^2 over a contiguous run (variance and norms). */
    public static float sumSquaredDeviation(float[] x, int off, int n, float center) {
        FloatVector c = FloatVector.broadcast(S, center);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, off + i).sub(c);
            acc = d.fma(d, acc);
        }
        float s = VMath.sumLanes(acc);
        for (; i < n; i++) {
            float d = x[off + i] - center;
            s += d * d;
        }
        return s;
    }

    /** Largest value of a non-empty contiguous run (NaN if any element is NaN). */
    public static float max(float[] x, int off, int n) {
        return extreme(x, off, n, true);
    }

    /** Smallest value of a non-empty contiguous run (NaN if any element is NaN). */
    public static float min(float[] x, int off, int n) {
        return extreme(x, off, n, false);
    }

    private static float extreme(float[] x, int off, int n, boolean max) {
        float init = max ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
        FloatVector acc = FloatVector.broadcast(S, init);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, off + i);
            acc = max ? acc.max(v) : acc.min(v);
        }
        float m = acc.reduceLanes(max ? VectorOperators.MAX : VectorOperators.MIN);
        for (; i < n; i++) {
            m = max ? Math.max(m, x[off + i]) : Math.min(m, x[off + i]);
        }
        return m;
    }

    /** Index of the first largest element of a non-empty contiguous run (NaN counts as largest, like PyTorch). */
    public static int argmax(float[] x, int off, int n) {
        float m = max(x, off, n);
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (v == m || (m != m && v != v)) {
                return i;
            }
        }
        return 0;
    }

    /** Index of the first smallest element of a non-empty contiguous run (NaN counts as smallest). */
    public static int argmin(float[] x, int off, int n) {
        float m = min(x, off, n);
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (v == m || (m != m && v != v)) {
                return i;
            }
        }
        return 0;
    }
}
