package dev.lory4j.data.knn;

import dev.lory4j.tensor.kernels.VMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API dot products for nearest-neighbour search: one pair, and a tile of query rows against base
 * rows with a 4 × 2 register block (8 FMA accumulators per step), the hot loop of exact kNN.
 */
public final class DotKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private DotKernel() {
    }

    /** {@code a[ao, ao+n) · b[bo, bo+n)}. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), acc1);
        }
        for (; i + L <= n; i += L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
        }
        float s = VMath.sumLanes(acc0.add(acc1));
        for (; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    /**
     * {@code out[(q - q0) * nb + (r - b0)] = x[q] · x[r]} for queries {@code q in [q0, q0+nq)} and base rows
     * {@code r in [b0, b0+nb)} of the row-major matrix {@code x} with row width {@code dim}.
     */
    public static void tile(float[] x, int dim, int q0, int nq, int b0, int nb, float[] out) {
        int q = 0;
        for (; q + 4 <= nq; q += 4) {
            int r = 0;
            for (; r + 2 <= nb; r += 2) {
                block4x2(x, dim, q0 + q, b0 + r, out, q * nb + r, nb);
            }
            for (; r < nb; r++) {
                for (int t = 0; t < 4; t++) {
                    out[(q + t) * nb + r] = dot(x, (q0 + q + t) * dim, x, (b0 + r) * dim, dim);
                }
            }
        }
        for (; q < nq; q++) {
            for (int r = 0; r < nb; r++) {
                out[q * nb + r] = dot(x, (q0 + q) * dim, x, (b0 + r) * dim, dim);
            }
        }
    }

    private static void block4x2(float[] x, int dim, int q, int r, float[] out, int o, int ld) {
        int a0 = q * dim;
        int a1 = a0 + dim;
        int a2 = a1 + dim;
        int a3 = a2 + dim;
        int c0 = r * dim;
        int c1 = c0 + dim;
        FloatVector s00 = FloatVector.zero(S);
        FloatVector s01 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S);
        FloatVector s11 = FloatVector.zero(S);
        FloatVector s20 = FloatVector.zero(S);
        FloatVector s21 = FloatVector.zero(S);
        FloatVector s30 = FloatVector.zero(S);
        FloatVector s31 = FloatVector.zero(S);
        int i = 0;
        for (; i + L <= dim; i += L) {
            FloatVector b0 = FloatVector.fromArray(S, x, c0 + i);
            FloatVector b1 = FloatVector.fromArray(S, x, c1 + i);
            FloatVector v = FloatVector.fromArray(S, x, a0 + i);
            s00 = v.fma(b0, s00);
            s01 = v.fma(b1, s01);
            v = FloatVector.fromArray(S, x, a1 + i);
            s10 = v.fma(b0, s10);
            s11 = v.fma(b1, s11);
            v = FloatVector.fromArray(S, x, a2 + i);
            s20 = v.fma(b0, s20);
            s21 = v.fma(b1, s21);
            v = FloatVector.fromArray(S, x, a3 + i);
            s30 = v.fma(b0, s30);
            s31 = v.fma(b1, s31);
        }
        float[] t = {
            VMath.sumLanes(s00), VMath.sumLanes(s01),
            VMath.sumLanes(s10), VMath.sumLanes(s11),
            VMath.sumLanes(s20), VMath.sumLanes(s21),
            VMath.sumLanes(s30), VMath.sumLanes(s31)};
        for (; i < dim; i++) {
            float b0 = x[c0 + i];
            float b1 = x[c1 + i];
            t[0] += x[a0 + i] * b0;
            t[1] += x[a0 + i] * b1;
            t[2] += x[a1 + i] * b0;
            t[3] += x[a1 + i] * b1;
            t[4] += x[a2 + i] * b0;
            t[5] += x[a2 + i] * b1;
            t[6] += x[a3 + i] * b0;
            t[7] += x[a3 + i] * b1;
        }
        out[o] = t[0];
        out[o + 1] = t[1];
        out[o + ld] = t[2];
        out[o + ld + 1] = t[3];
        out[o + 2 * ld] = t[4];
        out[o + 2 * ld + 1] = t[5];
        out[o + 3 * ld] = t[6];
        out[o + 3 * ld + 1] = t[7];
    }
}
