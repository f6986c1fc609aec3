package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.autograd.nn.Linear;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;

/**
 * Token-level top-k MoE (Mixtral style), a baseline: each token goes to the k experts with the largest router
 * logits, weighted by the softmax over those k logits; the Switch load-balancing loss
 * aux = E · Σ_i f_i · P_i (f_i: fraction of token-slots dispatched to expert i, P_i: mean router probability)
 * is exposed through {@link #auxLoss()} for the trainer to add with its coefficient.
 */
public final class TopKMoeLayer extends Layer implements AuxLossLayer {
    private final int layerIndex;
    private final int k;
    private final Linear router;
    private final ExpertBank experts;
    private Var auxLoss;
    private RoutingTrace trace;

    /** A layer with E experts, each token using the top k of them. */
    public TopKMoeLayer(int layerIndex, int hidden, int intermediate, int experts, int k, boolean routerBias,
                        float std, float downStd, float routerStd, Rng rng) {
        if (k <= 0 || k > experts) {
            throw new IllegalArgumentException("TopKMoeLayer: top_k " + k + " must be in [1, " + experts + "]");
        }
        this.layerIndex = layerIndex;
        this.k = k;
        this.router = registerModule("router", new Linear(hidden, experts, routerBias, routerStd, rng));
        this.experts = registerModule("experts", new ExpertBank(experts, hidden, intermediate, std, downStd, rng));
    }

    @Override
    public Var forward(Var x) {
        int[] shape = x.shape();
        int d = shape[shape.length - 1];
        int n = x.data().numel() / d;
        int e = experts.count();
        Var xf = x.reshape(n, d);
        Var logits = router.forward(xf); // [n, E]
        int[] top = TokenRouting.topK(logits.data(), k);
        Var weights = logits.gather(1, top, n, k).softmax(-1).reshape(n * k, 1);
        int[][][] routes = TokenRouting.byExpert(top, k, e);
        float[] dispatched = new float[e];
        for (int i = 0; i < e; i++) {
            dispatched[i] = routes[i][0].length / (float) (n * k);
        }
        Var out = TokenRouting.dispatch(experts, xf, routes, weights);
        // Switch load balancing: E * sum_i f_i * P_i (f is not differentiable, P is).
        Var meanProb = logits.softmax(-1).mean(false, 0);
        auxLoss = meanProb.mul(Var.of(Tensor.wrap(dispatched, e))).sum().mul(e);
        if (trace != null) {
            float[] w = meanProb.data().toArray();
            trace.record(layerIndex, 1, 1, e, w);
        }
        return out.reshape(shape);
    }

    @Override
    public Var auxLoss() {
        return auxLoss;
    }

    /** Attaches a trace that records the mean router probabilities of each pass (null detaches). */
    public void setTrace(RoutingTrace trace) {
        this.trace = trace;
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
