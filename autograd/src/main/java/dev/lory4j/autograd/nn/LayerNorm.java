package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;

/** LayerNorm over the last axis with learned scale (ones) and shift (zeros). */
public final class LayerNorm extends Module {
    private final Var weight;
    private final Var bias;
    private final float eps;

    /** A norm over {@code dim} features. */
    public LayerNorm(int dim, float eps) {
        this.weight = registerParameter("weight", Tensor.ones(dim));
        this.bias = registerParameter("bias", Tensor.zeros(dim));
        this.eps = eps;
    }

    /** (x - mean) / sqrt(var + eps) * weight + bias. */
    public Var forward(Var x) {
        return x.layerNorm(weight, bias, eps);
    }
}
