package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The dot-product micro-kernel shared by the skinny GEMM path ({@link Gemm}), the merge backward ({@link Merge})
 * and exact nearest-neighbour search: two rows of one matrix against four rows of another, eight FMA accumulators
 * per step, in one fixed order of summation, so every caller's results are independent of how it splits the work.
 */
public final class Dots {
    private Dots() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int V = S.length();

    /**
     * Σ_{p < n} a[ao + p] · b[bo + p] with one vector accumulator: whole vectors by fused multiply-adds, their lanes
     * summed by {@link VMath#sumLanes}, then the remaining p one product at a time (the row dot of attention's and the
     * softmax's backward passes).
     */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += V) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        float sum = VMath.sumLanes(acc);
        for (; i < n; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }

    /** Floats of scratch {@link #dots2x4} needs for its lane sums. */
    public static final int LANES = V;

    /**
     * {@code out[4 r + j] = Σ_{p < n} a[a_r + p] · b[b_j + p]} for the two rows a_0, a_1 of {@code a} and the four
     * rows b_0..b_3 of {@code b} (rows may repeat): whole vectors first, their lanes summed lane 0 first, then the
     * remaining p with {@link Math#fma}. {@code lanes} is scratch of at least {@link #LANES} floats.
     */
    public static void dots2x4(float[] a, int a0, int a1, float[] b, int b0, int b1, int b2, int b3, int n,
                               float[] out, float[] lanes) {
        FloatVector s00 = FloatVector.zero(S), s01 = FloatVector.zero(S);
        FloatVector s02 = FloatVector.zero(S), s03 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S), s11 = FloatVector.zero(S);
        FloatVector s12 = FloatVector.zero(S), s13 = FloatVector.zero(S);
        int nv = S.loopBound(n);
        for (int p = 0; p < nv; p += V) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + p);
            FloatVector x1 = FloatVector.fromArray(S, a, a1 + p);
            FloatVector y = FloatVector.fromArray(S, b, b0 + p);
            s00 = x0.fma(y, s00);
            s10 = x1.fma(y, s10);
            y = FloatVector.fromArray(S, b, b1 + p);
            s01 = x0.fma(y, s01);
            s11 = x1.fma(y, s11);
            y = FloatVector.fromArray(S, b, b2 + p);
            s02 = x0.fma(y, s02);
            s12 = x1.fma(y, s12);
            y = FloatVector.fromArray(S, b, b3 + p);
            s03 = x0.fma(y, s03);
            s13 = x1.fma(y, s13);
        }
        out[0] = finish(s00, a, a0, b, b0, nv, n, lanes);
        out[1] = finish(s01, a, a0, b, b1, nv, n, lanes);
        out[2] = finish(s02, a, a0, b, b2, nv, n, lanes);
        out[3] = finish(s03, a, a0, b, b3, nv, n, lanes);
        out[4] = finish(s10, a, a1, b, b0, nv, n, lanes);
        out[5] = finish(s11, a, a1, b, b1, nv, n, lanes);
        out[6] = finish(s12, a, a1, b, b2, nv, n, lanes);
        out[7] = finish(s13, a, a1, b, b3, nv, n, lanes);
    }

    /** The lanes of acc summed lane 0 first, then the scalar tail p in [nv, n) with fma. */
    private static float finish(FloatVector acc, float[] a, int ai, float[] b, int bi, int nv, int n, float[] lanes) {
        acc.intoArray(lanes, 0);
        float s = 0f;
        for (int l = 0; l < V; l++) {
            s += lanes[l];
        }
        for (int p = nv; p < n; p++) {
            s = Math.fma(a[ai + p], b[bi + p], s);
        }
        return s;
    }
}
