package dev.lory4j.moe;

import dev.lory4j.autograd.Var;

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

    /** Merges experts [E, a, b] with weights [S, E] into S matrices [S, a, b]. */
    public static Var merge(Var weights, Var experts) {
        int e = experts.dim(0);
        int a = experts.dim(1);
        int b = experts.dim(2);
        if (weights.rank() != 2 || weights.dim(1) != e) {
            throw new IllegalArgumentException("merge: weights " + dev.lory4j.tensor.Shapes.str(weights.shape())
                    + " do not match " + e + " experts of shape [" + a + "," + b + "]");
        }
        return weights.matmul(experts.reshape(e, a * b)).reshape(weights.dim(0), a, b);
    }
}
