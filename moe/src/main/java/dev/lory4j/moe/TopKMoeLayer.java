package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;

/**
 * Token-level top-k MoE (Mixtral style), a baseline: each token goes to the k experts with the largest router
 * logits, weighted by the softmax over those k logits; the Switch load-balancing loss
 * aux = E · Σ_i f_i · P_i (f_i: fraction of token-slots dispatched to expert i, P_i: mean router probability)
 * is exposed through {@link #auxLoss()} for the trainer to add with its coefficient.
 */
public final class TopKMoeLayer extends TokenLevelMoe implements AuxLossLayer {
    private final int layerIndex;
    private final int k;
    private Var auxLoss;
    private RoutingTrace trace;

    /** A layer with E experts, each token using the top k of them. */
    public TopKMoeLayer(int layerIndex, int hidden, int intermediate, int experts, int k, boolean routerBias,
                        float std, float downStd, float routerStd, Rng rng) {
        super(hidden, intermediate, experts, routerBias, std, downStd, routerStd, rng);
        if (k <= 0 || k > experts) {
            throw new IllegalArgumentException("TopKMoeLayer: top_k " + k + " must be in [1, " + experts + "]");
        }
        this.layerIndex = layerIndex;
        this.k = k;
    }

    @Override
    public Var forward(Var x) {
        Var xf = tokens(x);
        int n = xf.dim(0);
        int e = experts.count();
        Var logits = router.forward(xf); // [n, E]
        Tensor chosen = logits.data().topKMask(1, k); // the k largest logits of each token (ties: lower expert)
        // The softmax over the chosen k logits: the others are -inf, so their weight is 0.
        Var weights = logits.where(chosen, Var.of(Tensor.scalar(Float.NEGATIVE_INFINITY))).softmax(-1);
        Var out = route(xf, chosen, weights);
        // Switch load balancing: E * sum_i f_i * P_i (f, the fraction of token-slots sent to i, is not differentiable).
        Tensor dispatched = chosen.sum(false, 0).div(n * k);
        Var meanProb = logits.softmax(-1).mean(false, 0);
        auxLoss = meanProb.mul(Var.of(dispatched)).sum().mul(e);
        if (trace != null) { // the mean router probabilities, at once or after each run of a captured step
            Capture.tap("routing " + layerIndex, meanProb.data(), w -> {
                RoutingTrace now = trace;
                if (now != null) {
                    now.record(layerIndex, 1, 1, e, w.contiguous().toArray());
                }
            });
        }
        return out.reshape(x.shape());
    }

    @Override
    public Var auxLoss() {
        return auxLoss;
    }

    /** Attaches a trace that records the mean router probabilities of each pass (null detaches). */
    public void setTrace(RoutingTrace trace) {
        this.trace = trace;
    }


}
