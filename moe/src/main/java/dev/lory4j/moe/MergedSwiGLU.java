package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;

/**
 * The merge and the per-segment SwiGLU of a Lory layer as one op that does not keep the merged weights for the
 * backward pass (spec §2.9, "recompute option"): forward merges θ̄_s = Σ_i w_{s,i} θ_i, applies
 * y_s = W̄2_s (SiLU(W̄1_s h_s) ⊙ W̄3_s h_s) and keeps only w, h and the two pre-activations; backward merges
 * again (a cheap E-term sum) and applies the gradients of spec §3.3 and §3.1:
 * <pre>
 *   dW̄2 = dYᵀ Z,  dZ = dY W̄2,  dA = dZ ⊙ B ⊙ SiLU'(A),  dB = dZ ⊙ SiLU(A),  dW̄1 = dAᵀ h,  dW̄3 = dBᵀ h,
 *   dh = dA W̄1 + dB W̄3,  ∂L/∂θ_i = Σ_s w_{s,i} dθ̄_s,  ∂L/∂w_{s,i} = Σ ⟨dθ̄_s, θ_i⟩
 * </pre>
 * Memory saved per layer: 3·S·d·d' floats (S = rows x segments), the largest tensors of a Lory layer.
 */
final class MergedSwiGLU {
    private MergedSwiGLU() {}

    /** y [S, T, d] for h [S, T, d] and weights w [S, E] over the experts of {@code bank}. */
    static Var apply(Var h, Var w, ExpertBank bank) {
        Var[] in = {h, w, bank.gate(), bank.up(), bank.down()};
        Tensor ht = h.data();
        Tensor wt = w.data();
        Tensor[] m = merge(wt, bank);
        Tensor a = ht.matmul(m[0].transpose(-1, -2));
        Tensor b = ht.matmul(m[1].transpose(-1, -2));
        Tensor y = a.silu().mul(b).matmul(m[2].transpose(-1, -2));
        return Var.custom("loryMergedSwiGLU", y, in, (g, needs) -> {
            Tensor[] mm = merge(wt, bank); // recomputed instead of kept
            Tensor sig = a.sigmoid();
            Tensor silu = a.mul(sig);
            Tensor z = silu.mul(b);
            Tensor dm2 = g.transpose(-1, -2).matmul(z); // [S, d, d']
            Tensor dz = g.matmul(mm[2]); // [S, T, d']
            Tensor dA = dz.mul(b).mul(sig.mul(a.mul(sig.neg().add(1f)).add(1f)));
            Tensor dB = dz.mul(silu);
            Tensor dm1 = dA.transpose(-1, -2).matmul(ht); // [S, d', d]
            Tensor dm3 = dB.transpose(-1, -2).matmul(ht);
            Tensor dh = needs[0] ? dA.matmul(mm[0]).add(dB.matmul(mm[1])) : null;
            Tensor[] dms = {dm1, dm3, dm2};
            Var[] experts = {bank.gate(), bank.up(), bank.down()};
            Tensor dw = needs[1] ? Tensor.zeros(wt.shape()) : null;
            Tensor[] dExperts = new Tensor[3];
            int s = wt.dim(0);
            int e = wt.dim(1);
            for (int k = 0; k < 3; k++) {
                Tensor flat = dms[k].reshape(s, -1);
                Tensor wflat = experts[k].data().reshape(e, -1);
                if (needs[2 + k]) {
                    dExperts[k] = wt.transpose(0, 1).matmul(flat).reshape(experts[k].shape());
                }
                if (dw != null) {
                    dw.addInPlace(flat.matmul(wflat.transpose(0, 1)));
                }
            }
            return new Tensor[] {dh, dw, dExperts[0], dExperts[1], dExperts[2]};
        });
    }

    private static Tensor[] merge(Tensor w, ExpertBank bank) {
        Var wv = Var.of(w);
        return new Tensor[] {ExpertMerge.merge(wv, Var.of(bank.gate().data())).data(),
            ExpertMerge.merge(wv, Var.of(bank.up().data())).data(),
            ExpertMerge.merge(wv, Var.of(bank.down().data())).data()};
    }
}
