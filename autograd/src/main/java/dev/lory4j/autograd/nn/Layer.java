package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;

/** A module with one input and one output, such as a feed-forward block (dense SwiGLU or a mixture of experts). */
public abstract class Layer extends Module {
    /** Applies the layer. */
    public abstract Var forward(Var x);

}
