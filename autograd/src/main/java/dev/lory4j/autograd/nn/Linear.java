package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;

/** y = x W^T (+ b) with W of shape [out, in] (PyTorch/Hugging Face layout). */
public final class Linear extends Module {
    private final Var weight;
    private final Var bias;
    private final int in;
    private final int out;

    /** A layer with weights drawn from N(0, std^2) (bias zero), as LLaMA-style models initialise. */
    public Linear(int in, int out, boolean bias, float std, Rng rng) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("Linear: sizes in=" + in + ", out=" + out + " must be positive");
        }
        this.in = in;
        this.out = out;
        this.weight = registerParameter("weight", rng.normal(0f, std, out, in));
        this.bias = bias ? registerParameter("bias", Tensor.zeros(out)) : null;
    }

    /** Applies the layer to x [..., in]. */
    public Var forward(Var x) {
        if (x.dim(-1) != in) {
            throw new IllegalArgumentException("Linear(" + in + " -> " + out + "): input shape "
                    + Shapes.str(x.shape()) + " does not end in " + in);
        }
        Var y = x.linear(weight);
        return bias == null ? y : y.add(bias);
    }

    /** The weight [out, in]. */
    public Var weight() {
        return weight;
    }

    /** The bias [out], or null. */
    public Var bias() {
        return bias;
    }
}
