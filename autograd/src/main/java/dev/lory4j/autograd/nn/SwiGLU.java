package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Rng;

/** The LLaMA feed-forward block: down(silu(gate(x)) * up(x)), no biases. */
public final class SwiGLU extends Layer {
    private final Linear gate;
    private final Linear up;
    private final Linear down;

    /** A block hidden -> intermediate -> hidden; {@code downStd} lets output projections use a scaled init. */
    public SwiGLU(int hidden, int intermediate, float std, float downStd, Rng rng) {
        this.gate = registerModule("gate_proj", new Linear(hidden, intermediate, false, std, rng));
        this.up = registerModule("up_proj", new Linear(hidden, intermediate, false, std, rng));
        this.down = registerModule("down_proj", new Linear(intermediate, hidden, false, downStd, rng));
    }

    /** down(silu(gate(x)) * up(x)): the composite op {@link Composites#SWIGLU}. */
    @Override
    public Var forward(Var x) {
        return Composites.SWIGLU.apply(null, x, gate.weight(), up.weight(), down.weight());
    }

    /** gate_proj [intermediate, hidden]. */
    public Linear gate() {
        return gate;
    }

    /** up_proj [intermediate, hidden]. */
    public Linear up() {
        return up;
    }

    /** down_proj [hidden, intermediate]. */
    public Linear down() {
        return down;
    }
}
