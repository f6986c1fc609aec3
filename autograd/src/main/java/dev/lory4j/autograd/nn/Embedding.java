package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;

/** A lookup table [vocab, dim]: token ids to vectors. */
public final class Embedding extends Module {
    private final Var weight;

    /** A table drawn from N(0, std^2). */
    public Embedding(int vocab, int dim, float std, Rng rng) {
        if (vocab <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding: vocab " + vocab + " and dim " + dim + " must be positive");
        }
        this.weight = registerParameter("weight", rng.normal(0f, std, vocab, dim));
    }

    /** Vectors for ids laid out as {@code idShape}: result [idShape..., dim]. */
    public Var forward(int[] ids, int... idShape) {
        return weight.embedding(ids, idShape);
    }

    /** The table [vocab, dim]. */
    public Var weight() {
        return weight;
    }
}
