package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;

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

    /**
     * y_s = x_s · W̄_sᵀ with W̄ = {@link #merge}(w, experts), for x [S, T, b], w [S, E], experts [E, a, b] (a Linear
     * layout, [out, in]): the same values and gradients as the composition, computed by the backend's
     * {@link Backend#mergedMatmul} so that a device backend merges on its device and never copies W̄. Backward:
     * dx_s = dy_s · W̄_s, and the two merge gradients of spec §3.2 from dW̄_s = dy_sᵀ · x_s
     * ({@link Backend#mergedMatmulGrads}).
     */
    public static Var mergedProduct(Var x, Var w, Var experts) {
        Tensor xt = x.data();
        Tensor wt = w.data();
        Tensor et = experts.data();
        Tensor y = Backends.current().mergedMatmul(xt, wt, et, true);
        return Var.custom("mergedProduct", y, new Var[] {x, w, experts}, (g, needs) -> {
            Backend backend = Backends.current();
            Tensor dx = needs[0] ? backend.mergedMatmul(g, wt, et, false) : null;
            Tensor[] grads = needs[1] || needs[2] ? backend.mergedMatmulGrads(xt, g, wt, et) : null;
            return new Tensor[] {dx, needs[1] ? grads[0] : null, needs[2] ? grads[1] : null};
        });
    }

    /**
     * The feed-forward block of a Lory layer with its experts merged per segment (spec §2.2, §2.4), for h [S, T, d],
     * routing weights w [S, E] and expert tensors gate, up [E, f, d] and down [E, d', f]:
     * y_s = (silu(h_s Ḡ_sᵀ) ⊙ (h_s Ū_sᵀ)) D̄_sᵀ with Ḡ = {@link #merge}(w, gate) (likewise Ū, D̄), as one op of the
     * backend ({@link Backend#mergedSwiGlu}, backward {@link Backend#mergedSwiGluGrads}), so that a device backend
     * runs the whole block where the experts are and copies only h, w, y and their gradients.
     */
    public static Var mergedSwiGlu(Var h, Var w, Var gate, Var up, Var down) {
        Tensor ht = h.data();
        Tensor wt = w.data();
        Tensor gt = gate.data();
        Tensor ut = up.data();
        Tensor dt = down.data();
        Tensor y = Backends.current().mergedSwiGlu(ht, wt, gt, ut, dt);
        return Var.custom("mergedSwiGlu", y, new Var[] {h, w, gate, up, down},
                (g, needs) -> Backends.current().mergedSwiGluGrads(ht, g, wt, gt, ut, dt));
    }
}
