package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.Module;
import dev.lory4j.autograd.nn.SwiGLU;
import dev.lory4j.tensor.Rng;

/**
 * E SwiGLU experts stored stacked (spec §2.2): {@code gate_proj} and {@code up_proj} [E, d', d] (W1 and W3),
 * {@code down_proj} [E, d, d'] (W2), under the checkpoint names {@code mlp.experts.gate_proj} etc.
 */
public final class ExpertBank extends Module {
    private final Var gate;
    private final Var up;
    private final Var down;

    /** E experts initialised from N(0, std^2) (down projections from N(0, downStd^2)). */
    public ExpertBank(int experts, int hidden, int intermediate, float std, float downStd, Rng rng) {
        if (experts <= 0) {
            throw new IllegalArgumentException("ExpertBank: need at least one expert, got " + experts);
        }
        this.gate = registerParameter("gate_proj", rng.normal(0f, std, experts, intermediate, hidden));
        this.up = registerParameter("up_proj", rng.normal(0f, std, experts, intermediate, hidden));
        this.down = registerParameter("down_proj", rng.normal(0f, downStd, experts, hidden, intermediate));
    }

    /** W1 (gate), [E, d', d]. */
    public Var gate() {
        return gate;
    }

    /** W3 (up), [E, d', d]. */
    public Var up() {
        return up;
    }

    /** W2 (down), [E, d, d']. */
    public Var down() {
        return down;
    }

    /** Number of experts. */
    public int count() {
        return gate.dim(0);
    }

    /** Copies a dense FFN into every expert (upcycling after dense warm-up, spec §2.8). */
    public void copyFromDense(SwiGLU dense) {
        for (int i = 0; i < count(); i++) {
            gate.data().select(0, i).copyFrom(dense.gate().weight().data());
            up.data().select(0, i).copyFrom(dense.up().weight().data());
            down.data().select(0, i).copyFrom(dense.down().weight().data());
        }
    }

    /** Expert i as a SwiGLU function of x [..., d] (used by the token-level baselines). */
    public Var apply(int i, Var x) {
        Var g = x.matmul(gate.select(0, i).t());
        Var u = x.matmul(up.select(0, i).t());
        return g.silu().mul(u).matmul(down.select(0, i).t());
    }
}
