package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention {@code O = softmax(scale · Q Kᵀ, causal) V} and its backward pass, per head, without the
 * [heads, Lq, Lk] probabilities: queries run in blocks of {@link #BLOCK} rows, each block's scores against only the
 * keys it may see (the masked upper triangle is never computed) live in a per-thread scratch of {@code BLOCK x Lk}
 * floats, and the forward pass keeps one number per query, the log of its softmax denominator ({@code lse}), from
 * which the backward pass recomputes each block's probabilities (the scheme of FlashAttention, with whole key rows
 * per block because a CPU's L2 holds them). Query i of Lq sees keys {@code j <= i + Lk - Lq}.
 *
 * <p>Operands are addressed per head: head t of Q starts at {@code qBase[t]} with row stride {@code ldq}, and so on,
 * so that [B, L, H, D] activations viewed as [B, H, L, D] are read in place. Outputs and gradients are contiguous
 * [heads, L, D]. Heads are the parallel tasks; inside a head everything runs in one thread in a fixed order, so the
 * results do not depend on the thread count.
 */
public final class Attention {
    private Attention() {}

    /** Query rows per block. */
    static final int BLOCK = 64;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int V = S.length();

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    /**
     * out[t] = softmax(scale · Q_t K_tᵀ, causal) V_t for every head t (contiguous [heads, lq, dv] from outOff), and
     * lse[t·lq + i] = log Σ_j exp(s_ij) over the keys query i sees (s = scale · q·k).
     */
    public static void causalForward(int heads, int lq, int lk, int d, int dv, float scale, float[] q, int[] qBase,
                                     int ldq, float[] k, int[] kBase, int ldk, float[] v, int[] vBase, int ldv,
                                     float[] out, int outOff, float[] lse) {
        check(heads, lq, lk, qBase, kBase, vBase);
        Parallel.parallelFor(heads, t -> {
            float[] s = scratch(0, Math.min(BLOCK, lq) * lk);
            for (int i0 = 0; i0 < lq; i0 += BLOCK) {
                int rows = Math.min(BLOCK, lq - i0);
                int keys = Math.min(lk, i0 + rows + lk - lq);
                Gemm.sgemm(false, true, rows, keys, d, scale, q, qBase[t] + i0 * ldq, ldq, k, kBase[t], ldk, 0f, s,
                        0, keys);
                for (int r = 0; r < rows; r++) {
                    int valid = i0 + r + lk - lq + 1;
                    lse[t * lq + i0 + r] = softmaxRow(s, r * keys, valid, keys);
                }
                Gemm.sgemm(false, false, rows, dv, keys, 1f, s, 0, keys, v, vBase[t], ldv, 0f, out,
                        outOff + (t * lq + i0) * dv, dv);
            }
        });
    }

    /**
     * Gradients of {@link #causalForward} for the output gradient g (head t at gBase[t], row stride ldg): dq, dk, dv
     * contiguous [heads, L, D] from index 0 (overwritten); out (from outOff) and lse are the forward pass's.
     */
    public static void causalBackward(int heads, int lq, int lk, int d, int dv, float scale, float[] q, int[] qBase,
                                      int ldq, float[] k, int[] kBase, int ldk, float[] v, int[] vBase, int ldv,
                                      float[] out, int outOff, float[] lse, float[] g, int[] gBase, int ldg, float[] dq,
                                      float[] dk, float[] dvOut) {
        check(heads, lq, lk, qBase, kBase, vBase);
        if (gBase.length != heads) {
            throw new IllegalArgumentException("attention backward: " + gBase.length + " gradient heads, want "
                    + heads);
        }
        Parallel.parallelFor(heads, t -> {
            int block = Math.min(BLOCK, lq);
            float[] p = scratch(0, block * lk);
            float[] dp = scratch(1, block * lk + block);
            java.util.Arrays.fill(dk, t * lk * d, (t + 1) * lk * d, 0f);
            java.util.Arrays.fill(dvOut, t * lk * dv, (t + 1) * lk * dv, 0f);
            int deltaAt = block * lk;
            for (int i0 = 0; i0 < lq; i0 += BLOCK) {
                int rows = Math.min(BLOCK, lq - i0);
                int keys = Math.min(lk, i0 + rows + lk - lq);
                // delta_i = dO_i · O_i: the row sums of dP ⊙ P, needed by the softmax backward
                for (int r = 0; r < rows; r++) {
                    dp[deltaAt + r] = Dots.dot(g, gBase[t] + (i0 + r) * ldg, out, outOff + (t * lq + i0 + r) * dv, dv);
                }
                Gemm.sgemm(false, true, rows, keys, d, scale, q, qBase[t] + i0 * ldq, ldq, k, kBase[t], ldk, 0f, p,
                        0, keys);
                for (int r = 0; r < rows; r++) {
                    int valid = i0 + r + lk - lq + 1;
                    probabilities(p, r * keys, valid, keys, lse[t * lq + i0 + r]);
                }
                Gemm.sgemm(false, true, rows, keys, dv, 1f, g, gBase[t] + i0 * ldg, ldg, v, vBase[t], ldv, 0f, dp, 0,
                        keys);
                for (int r = 0; r < rows; r++) {
                    scoreGradient(p, dp, r * keys, keys, dp[deltaAt + r]);
                }
                // dp now holds dS; dQ = scale dS K, dK += scale dSᵀ Q, dV += Pᵀ dO
                Gemm.sgemm(false, false, rows, d, keys, scale, dp, 0, keys, k, kBase[t], ldk, 0f, dq,
                        (t * lq + i0) * d, d);
                Gemm.sgemm(true, false, keys, d, rows, scale, dp, 0, keys, q, qBase[t] + i0 * ldq, ldq, 1f, dk,
                        t * lk * d, d);
                Gemm.sgemm(true, false, keys, dv, rows, 1f, p, 0, keys, g, gBase[t] + i0 * ldg, ldg, 1f, dvOut,
                        t * lk * dv, dv);
            }
        });
    }

    private static void check(int heads, int lq, int lk, int[] qBase, int[] kBase, int[] vBase) {
        if (lq > lk || qBase.length != heads || kBase.length != heads || vBase.length != heads) {
            throw new IllegalArgumentException("causal attention: Lq " + lq + ", Lk " + lk + ", " + heads + " heads, "
                    + qBase.length + "/" + kBase.length + "/" + vBase.length + " head offsets (need Lq <= Lk and one "
                    + "offset per head)");
        }
    }

    private static float[] scratch(int which, int size) {
        float[][] s = SCRATCH.get();
        if (s[which].length < size) {
            s[which] = new float[size];
        }
        return s[which];
    }

    /**
     * Row x[o .. o+n): softmax over its first {@code valid} entries, zeros after them; returns the log of the
     * denominator, max + log Σ exp(x - max).
     */
    private static float softmaxRow(float[] x, int o, int valid, int n) {
        float lse = Softmax.softmaxRow(x, o, x, o, valid, false);
        java.util.Arrays.fill(x, o + valid, o + n, 0f);
        return lse;
    }

    /** Row x[o .. o+n) of scores becomes probabilities exp(x - lse) over its first {@code valid} entries, 0 after. */
    private static void probabilities(float[] x, int o, int valid, int n, float lse) {
        FloatVector vl = FloatVector.broadcast(S, lse);
        int i = 0;
        int bound = S.loopBound(valid);
        for (; i < bound; i += V) {
            VMath.exp(FloatVector.fromArray(S, x, o + i).sub(vl)).intoArray(x, o + i);
        }
        for (; i < valid; i++) {
            x[o + i] = (float) Math.exp(x[o + i] - lse);
        }
        java.util.Arrays.fill(x, o + valid, o + n, 0f);
    }

    /** dp[o .. o+n) = p ⊙ (dp - delta): the softmax backward of one row (0 where p is 0). */
    private static void scoreGradient(float[] p, float[] dp, int o, int n, float delta) {
        FloatVector vd = FloatVector.broadcast(S, delta);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += V) {
            FloatVector.fromArray(S, dp, o + i).sub(vd).mul(FloatVector.fromArray(S, p, o + i)).intoArray(dp, o + i);
        }
        for (; i < n; i++) {
            dp[o + i] = (dp[o + i] - delta) * p[o + i];
        }
    }
}
