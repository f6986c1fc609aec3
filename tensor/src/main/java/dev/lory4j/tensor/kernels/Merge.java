package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The backward pass of a <em>merge</em>: the product M = w · B of a small weight matrix w [S, E] with a wide
 * basis B [E, P] (S weighted sums of E long rows; Lory's expert merge, spec §3.2). Given dM [S, P]:
 * <pre>
 *   dB = wᵀ · dM    [E, P]   (∂L/∂θ_i = Σ_s w_{s,i} dθ̄_s)
 *   dw = dM · Bᵀ    [S, E]   (∂L/∂w_{s,i} = ⟨dθ̄_s, θ_i⟩)
 * </pre>
 * Both products have an inner or outer size of only S or E, so they are bound by reading dM (S·P floats): as two
 * GEMM calls they read it twice from memory; here one pass reads it once.
 *
 * <p>The columns are cut into blocks of {@link #BLOCK} (fixed, independent of the thread count), the parallel
 * tasks. A task first finishes dB's columns of its block (each a sum over s in order from s = 0 by fused
 * multiply-adds, as {@link Gemm}'s kernels sum over one K block), then,
 * while the S x BLOCK slice of dM is still in cache, computes one partial dot product per (s, i) over the block
 * (vector lanes added left to right, then the scalar tail). The partials are added in block order at the end,
 * so <b>results are bit-identical for any thread count</b>.
 */
public final class Merge {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int V = S.length();
    /** Columns per task: a multiple of every vector length; S x BLOCK floats of dM stay in L2 between the two uses. */
    static final int BLOCK = 2048;

    private Merge() {
    }

    /**
     * dB = wᵀ · dM (overwritten; skipped when db is null) and dw = dM · Bᵀ + beta · dw (skipped when dw is
     * null) for w [s, e] at wOff, B [e, p] at bOff, dM [s, p] at dmOff, dB [e, p] at dbOff and dw [s, e] at
     * dwOff, all dense row-major; beta == 0 overwrites dw without reading it.
     *
     * @throws IllegalArgumentException for negative sizes or offsets or an array too short; the message names
     *     merge backward and the values
     */
    public static void backward(int s, int e, int p, float[] w, int wOff, float[] b, int bOff, float[] dm, int dmOff,
                                float[] db, int dbOff, float[] dw, int dwOff, float beta) {
        if (s < 0 || e < 0 || p < 0) {
            throw new IllegalArgumentException("merge backward: negative size: s " + s + ", e " + e + ", p " + p);
        }
        check("w", w, wOff, (long) s * e);
        check("dM", dm, dmOff, (long) s * p);
        if (db != null) {
            check("dB", db, dbOff, (long) e * p);
        }
        if (dw != null) {
            check("B", b, bOff, (long) e * p);
            check("dw", dw, dwOff, (long) s * e);
        }
        if (s == 0 || e == 0 || p == 0) {
            if (db != null) {
                java.util.Arrays.fill(db, dbOff, dbOff + e * p, 0f);
            }
            if (dw != null) {
                for (int i = 0; i < s * e; i++) {
                    dw[dwOff + i] = beta == 0f ? 0f : beta * dw[dwOff + i];
                }
            }
            return;
        }
        int blocks = (p + BLOCK - 1) / BLOCK;
        float[] partial = dw == null ? null : new float[blocks * s * e];
        Parallel.parallelFor(blocks, blk -> {
            int j0 = blk * BLOCK;
            int j1 = Math.min(p, j0 + BLOCK);
            if (db != null) {
                weightedSums(s, e, p, w, wOff, dm, dmOff, db, dbOff, j0, j1);
            }
            if (dw != null) {
                dots(s, e, p, b, bOff, dm, dmOff, j0, j1, partial, blk * s * e);
            }
        });
        if (dw != null) {
            for (int i = 0; i < s * e; i++) {
                float sum = 0f;
                for (int blk = 0; blk < blocks; blk++) {
                    sum += partial[blk * s * e + i];
                }
                dw[dwOff + i] = beta == 0f ? sum : sum + beta * dw[dwOff + i];
            }
        }
    }

    /**
     * Columns [j0, j1) of dB: dB[i][j] = Σ_s w[s][i] · dM[s][j], four rows i at a time (rows past e repeat the
     * last one and are not stored), one vector of columns per step, the scalar tail by Math.fma.
     */
    private static void weightedSums(int s, int e, int p, float[] w, int wOff, float[] dm, int dmOff, float[] db,
                                     int dbOff, int j0, int j1) {
        int jv = j0 + (j1 - j0) / V * V;
        for (int i = 0; i < e; i += 4) {
            int i1 = Math.min(i + 1, e - 1);
            int i2 = Math.min(i + 2, e - 1);
            int i3 = Math.min(i + 3, e - 1);
            int rows = Math.min(4, e - i);
            for (int j = j0; j < jv; j += V) {
                FloatVector c0 = FloatVector.zero(S);
                FloatVector c1 = FloatVector.zero(S);
                FloatVector c2 = FloatVector.zero(S);
                FloatVector c3 = FloatVector.zero(S);
                for (int q = 0; q < s; q++) {
                    FloatVector x = FloatVector.fromArray(S, dm, dmOff + q * p + j);
                    int wq = wOff + q * e;
                    c0 = FloatVector.broadcast(S, w[wq + i]).fma(x, c0);
                    c1 = FloatVector.broadcast(S, w[wq + i1]).fma(x, c1);
                    c2 = FloatVector.broadcast(S, w[wq + i2]).fma(x, c2);
                    c3 = FloatVector.broadcast(S, w[wq + i3]).fma(x, c3);
                }
                c0.intoArray(db, dbOff + i * p + j);
                if (rows > 1) {
                    c1.intoArray(db, dbOff + i1 * p + j);
                }
                if (rows > 2) {
                    c2.intoArray(db, dbOff + i2 * p + j);
                }
                if (rows > 3) {
                    c3.intoArray(db, dbOff + i3 * p + j);
                }
            }
            for (int r = 0; r < rows; r++) {
                for (int j = jv; j < j1; j++) {
                    float c = 0f;
                    for (int q = 0; q < s; q++) {
                        c = Math.fma(w[wOff + q * e + i + r], dm[dmOff + q * p + j], c);
                    }
                    db[dbOff + (i + r) * p + j] = c;
                }
            }
        }
    }

    /**
     * Partial sums over columns [j0, j1) of dw[q][i] = Σ_j dM[q][j] · B[i][j] into out[outOff + q*e + i]: two rows
     * q by four rows i at a time (indices past the end repeat the last one; their sums are not stored).
     */
    private static void dots(int s, int e, int p, float[] b, int bOff, float[] dm, int dmOff, int j0, int j1,
                             float[] out, int outOff) {
        float[] d = new float[8];
        float[] lanes = new float[Dots.LANES];
        for (int q = 0; q < s; q += 2) {
            int x0 = dmOff + q * p + j0;
            int x1 = dmOff + Math.min(q + 1, s - 1) * p + j0;
            for (int i = 0; i < e; i += 4) {
                Dots.dots2x4(dm, x0, x1, b, bOff + i * p + j0, bOff + Math.min(i + 1, e - 1) * p + j0,
                        bOff + Math.min(i + 2, e - 1) * p + j0, bOff + Math.min(i + 3, e - 1) * p + j0, j1 - j0, d,
                        lanes);
                int rows = Math.min(2, s - q);
                int cols = Math.min(4, e - i);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        out[outOff + (q + r) * e + i + c] = d[4 * r + c];
                    }
                }
            }
        }
    }

    private static void check(String name, float[] x, int off, long size) {
        if (off < 0) {
            throw new IllegalArgumentException("merge backward: negative offset " + off + " for " + name);
        }
        if (size > 0 && (x == null || off + size > x.length)) {
            throw new IllegalArgumentException("merge backward: array " + name + " "
                    + (x == null ? "is null" : "too short: length " + x.length) + " < " + (off + size) + " needed");
        }
    }
}
