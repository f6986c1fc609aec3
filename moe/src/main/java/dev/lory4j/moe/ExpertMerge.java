package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;

/**
 * Merging experts in parameter space (spec §2.4, §3.1–3.2): θ̄_s = Σ_i e_{s,i} θ_i for every (row, segment) s.
 *
 * <p>It is the "flatten and matmul" form of spec §3.2: the stacked expert matrices [E, a, b] are viewed as
 * Wflat [E, a·b], and all S merges are one product Mflat = Eu · Wflat ([S, E] · [E, a·b]). Its backward is the
 * pair of products of spec §3.2, which the autograd matmul already provides:
 * dWflat = Euᵀ · dMflat (so ∂L/∂W_i = Σ_s e_{s,i} G_s) and dEu = dMflat · Wflatᵀ (so g_{s,i} = ⟨G_s, W_i⟩_F).
 * The softmax backward of spec §3.1 (∂L/∂z = e ⊙ (g − ⟨e, g⟩)) follows from the router's softmax op.
 */
public final class ExpertMerge {
    private ExpertMerge() {}

    /** Merges experts [E, a, b] with weights [S, E] into S matrices [S, a, b] ({@link Composites#merge}). */
    public static Var merge(Var weights, Var experts) {
        return Composites.merge(weights, experts);
    }

    /**
     * y_s = x_s · W̄_sᵀ with W̄ = {@link #merge}(w, experts), for x [S, T, b], w [S, E], experts [E, a, b] (a Linear
     * layout, [out, in]): the composite op {@link Composites#MERGED_PRODUCT}, so that a device backend may merge on
     * its device and never copy W̄.
     */
    public static Var mergedProduct(Var x, Var w, Var experts) {
        return Composites.MERGED_PRODUCT.apply(null, x, w, experts);
    }

    /**
     * The feed-forward block of a Lory layer with its experts merged per segment (spec §2.2, §2.4), for h [S, T, d],
     * routing weights w [S, E] and expert tensors gate, up [E, f, d] and down [E, d', f]:
     * y_s = (silu(h_s Ḡ_sᵀ) ⊙ (h_s Ū_sᵀ)) D̄_sᵀ with Ḡ = {@link #merge}(w, gate) (likewise Ū, D̄): the composite op
     * {@link Composites#MERGED_SWIGLU}.
     */
    public static Var mergedSwiGlu(Var h, Var w, Var gate, Var up, Var down) {
        return Composites.MERGED_SWIGLU.apply(new Composites.Merged(false), h, w, gate, up, down);
    }
}
