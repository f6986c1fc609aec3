package dev.lory4j.data.knn;

import dev.lory4j.tensor.kernels.Dots;
import dev.lory4j.tensor.kernels.VMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API dot products for nearest-neighbour search: one pair, and a tile of query rows against base
 * rows with a 4 × 2 register block (the shared {@link Dots} micro-kernel), the hot loop of exact kNN.
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
        float[] d = new float[8];
        float[] lanes = new float[Dots.LANES];
        int q = 0;
        for (; q + 4 <= nq; q += 4) {
            int r = 0;
            for (; r + 2 <= nb; r += 2) {
                block4x2(x, dim, q0 + q, b0 + r, out, q * nb + r, nb, d, lanes);
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

    /** Four query rows q.. against two base rows r.. through the shared 2 x 4 micro-kernel ({@link Dots}). */
    private static void block4x2(float[] x, int dim, int q, int r, float[] out, int o, int ld, float[] d,
                                 float[] lanes) {
        int a0 = q * dim;
        Dots.dots2x4(x, r * dim, (r + 1) * dim, x, a0, a0 + dim, a0 + 2 * dim, a0 + 3 * dim, dim, d, lanes);
        for (int t = 0; t < 4; t++) {
            out[o + t * ld] = d[t];
            out[o + t * ld + 1] = d[4 + t];
        }
    }
}
