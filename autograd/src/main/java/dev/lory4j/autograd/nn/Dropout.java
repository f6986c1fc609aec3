package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;

/** Zeroes activations with probability p in training mode; the identity in eval mode. */
public final class Dropout extends Module {
    private final float p;
    private final Rng rng;

    /** Dropout with probability p drawing masks from {@code rng}. */
    public Dropout(float p, Rng rng) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("Dropout: probability " + p + " must be in [0, 1)");
        }
        this.p = p;
        this.rng = rng;
    }

    /** Applies dropout (training) or passes x through (eval). */
    public Var forward(Var x) {
        return isTraining() && p > 0 ? x.dropout(p, rng) : x;
    }
}
