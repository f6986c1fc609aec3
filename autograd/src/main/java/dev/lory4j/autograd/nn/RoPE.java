package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Tensor;

/**
 * Rotary position embedding in the Hugging Face LLaMA convention ("rotate half"): for head size D the pairs are
 * (i, i + D/2), inv_freq_i = theta^(-2i/D), and x' = x * cos + rotate_half(x) * sin with
 * rotate_half([a, b]) = [-b, a]. Tables are precomputed up to {@code maxPositions}.
 */
public final class RoPE {
    private final int headDim;
    private final int maxPositions;
    private final Tensor cos;
    private final Tensor sin;

    /** Tables for heads of size {@code headDim} (even) and positions [0, maxPositions). */
    public RoPE(int headDim, int maxPositions, double theta) {
        if (headDim % 2 != 0 || headDim <= 0) {
            throw new IllegalArgumentException("RoPE: head size " + headDim + " must be even and positive");
        }
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        int half = headDim / 2;
        float[] c = new float[maxPositions * headDim];
        float[] s = new float[maxPositions * headDim];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                float inv = (float) invFreq; // HF computes inv_freq in float32, then p * inv_freq in float32
                float angle = p * inv;
                c[p * headDim + i] = c[p * headDim + i + half] = (float) Math.cos(angle);
                s[p * headDim + i] = s[p * headDim + i + half] = (float) Math.sin(angle);
            }
        }
        this.cos = Tensor.wrap(c, maxPositions, headDim);
        this.sin = Tensor.wrap(s, maxPositions, headDim);
    }

    /** Rotates x [..., L, D] whose positions are start .. start+L-1. */
    public Var apply(Var x, int start) {
        int len = x.dim(-2);
        if (x.dim(-1) != headDim) {
            throw new IllegalArgumentException("RoPE: input " + dev.lory4j.tensor.Shapes.str(x.shape())
                    + " at positions [" + start + ", " + (start + len) + ") needs head size " + headDim);
        }
        Tensor[] t = tables(start, len);
        return Composites.rope(x, t[0], t[1]);
    }

    /**
     * Rotates x [..., L, D] whose positions are {@code positions} [L]: the tables' rows looked up by an index op, so
     * that the positions can be an input of a captured step.
     */
    public Var apply(Var x, int[] positions) {
        if (x.dim(-1) != headDim || x.dim(-2) != positions.length) {
            throw new IllegalArgumentException("RoPE: input " + dev.lory4j.tensor.Shapes.str(x.shape()) + " at "
                    + positions.length + " positions needs head size " + headDim + " and one position a row");
        }
        for (int p : positions) {
            if (p < 0 || p >= maxPositions) {
                throw new IllegalArgumentException("RoPE: position " + p + " must lie in [0, " + maxPositions + ")");
            }
        }
        return Composites.rope(x, cos.indexSelect(0, positions), sin.indexSelect(0, positions));
    }

    /** The tables {cos, sin} [len, D] of positions start .. start+len-1 (views of the precomputed ones). */
    public Tensor[] tables(int start, int len) {
        if (start < 0 || len < 0 || start + len > maxPositions) {
            throw new IllegalArgumentException("RoPE: positions [" + start + ", " + (start + len)
                    + ") must lie below " + maxPositions);
        }
        return new Tensor[] {cos.slice(0, start, start + len), sin.slice(0, start, start + len)};
    }
}
