package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Fused optimizer updates over contiguous runs (one pass over parameter, gradient and state). */
public final class Optimizers {
    private Optimizers() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /**
     * One AdamW step exactly as PyTorch orders it: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), where bc1 = 1 - b1^t and bc2 = 1 - b2^t.
     */
    public static void adamw(float[] p, int pOff, float[] g, int gOff, float[] m, int mOff, float[] v, int vOff,
                             int n, float lr, float beta1, float beta2, float eps, float weightDecay,
                             float bc1, float bc2) {
        float decay = 1 - lr * weightDecay;
        float stepSize = lr / bc1;
        float invSqrtBc2 = (float) (1 / Math.sqrt(bc2));
        FloatVector vDecay = FloatVector.broadcast(S, decay);
        FloatVector vb1 = FloatVector.broadcast(S, beta1);
        FloatVector v1b1 = FloatVector.broadcast(S, 1 - beta1);
        FloatVector vb2 = FloatVector.broadcast(S, beta2);
        FloatVector v1b2 = FloatVector.broadcast(S, 1 - beta2);
        FloatVector vEps = FloatVector.broadcast(S, eps);
        FloatVector vStep = FloatVector.broadcast(S, -stepSize);
        FloatVector vInv = FloatVector.broadcast(S, invSqrtBc2);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector gv = FloatVector.fromArray(S, g, gOff + i);
            FloatVector mv = FloatVector.fromArray(S, m, mOff + i).mul(vb1).add(gv.mul(v1b1));
            FloatVector vv = FloatVector.fromArray(S, v, vOff + i).mul(vb2).add(gv.mul(gv).mul(v1b2));
            FloatVector denom = vv.sqrt().mul(vInv).add(vEps);
            FloatVector pv = FloatVector.fromArray(S, p, pOff + i).mul(vDecay);
            pv.add(mv.div(denom).mul(vStep)).intoArray(p, pOff + i);
            mv.intoArray(m, mOff + i);
            vv.intoArray(v, vOff + i);
        }
        for (; i < n; i++) {
            float gi = g[gOff + i];
            float mi = m[mOff + i] * beta1 + gi * (1 - beta1);
            float vi = v[vOff + i] * beta2 + gi * gi * (1 - beta2);
            float denom = (float) Math.sqrt(vi) * invSqrtBc2 + eps;
            p[pOff + i] = p[pOff + i] * decay + mi / denom * -stepSize;
            m[mOff + i] = mi;
            v[vOff + i] = vi;
        }
    }

    /** Sum of squares of a contiguous run, accumulated in double per vector block (for gradient norms). */
    public static double sumOfSquares(float[] x, int off, int n) {
        double total = 0;
        int block = 4096;
        for (int s = 0; s < n; s += block) {
            total += Reduce.sumSquaredDeviation(x, off + s, Math.min(block, n - s), 0f);
        }
        return total;
    }
}
