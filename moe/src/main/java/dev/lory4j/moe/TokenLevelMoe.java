package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.autograd.nn.Linear;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;

/**
 * What the token-level baselines share: a router (hidden -> E logits), E SwiGLU experts, and the token matrix
 * [n, hidden] they route; subclasses decide which tokens each expert gets, as a mask [n, E] computed from the
 * router's scores ({@link dev.lory4j.tensor.Tensor#topKMask}), and with which weights ({@link #route}).
 */
abstract class TokenLevelMoe extends Layer {
    protected final Linear router;
    protected final ExpertBank experts;

    TokenLevelMoe(int hidden, int intermediate, int experts, boolean routerBias, float std, float downStd,
                  float routerStd, Rng rng) {
        this.router = registerModule("router", new Linear(hidden, experts, routerBias, routerStd, rng));
        this.experts = registerModule("experts", new ExpertBank(experts, hidden, intermediate, std, downStd, rng));
    }

    /** x [..., hidden] as a token matrix [n, hidden]. */
    static Var tokens(Var x) {
        int d = x.dim(-1);
        return x.reshape(x.data().numel() / d, d);
    }

    /**
     * Σ_e mask[r, e] · weights[r, e] · expert_e(x[r]) for each token r of xf [n, d]: the composite op
     * {@link Composites#ROUTED_SWIGLU} (the mask is not differentiated; a backend may run each expert on its rows only).
     */
    protected Var route(Var xf, Tensor mask, Var weights) {
        return Composites.ROUTED_SWIGLU.apply(null, xf, Var.of(mask), weights, experts.gate(), experts.up(),
                experts.down());
    }

    /** The experts. */
    public ExpertBank experts() {
        return experts;
    }

    /** The router. */
    public Linear router() {
        return router;
    }
}
