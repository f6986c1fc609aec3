package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;

/** RMSNorm over the last axis with a learned scale initialised to ones. */
public final class RMSNorm extends Module {
    private final Var weight;
    private final float eps;

    /** A norm over {@code dim} features with the given epsilon (LLaMA uses 1e-5 or 1e-6). */
    public RMSNorm(int dim, float eps) {
        this.weight = registerParameter("weight", Tensor.ones(dim));
        this.eps = eps;
    }

    /** The learned scale [dim]. */
    Var weight() {
        return weight;
    }

    /** x * rsqrt(mean(x^2) + eps) * weight. */
    public Var forward(Var x) {
        return x.rmsNorm(weight, eps);
    }
}
