package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;

/**
 * Token-level Expert Choice (Zhou et al. 2022), the paper's strongest baseline (spec §2.11, §7.4): in training,
 * each expert picks the {@code capacity = n · cf / E} tokens of the batch with the highest router probability
 * (softmax over experts) and adds its output weighted by that probability; with capacity factor 1 a token gets
 * one expert on average. Choosing among all tokens of the batch is not causal (a later token can take an
 * expert's slot), which is inherent to Expert Choice; in eval mode each token instead uses its top-k experts by
 * probability ({@code topK}, default 1), as the paper evaluates it.
 */
public final class ExpertChoiceLayer extends TokenLevelMoe {
    private final int topK;
    private final float capacityFactor;

    /** A layer with E experts, capacity factor {@code cf} in training and top-k routing in eval mode. */
    public ExpertChoiceLayer(int hidden, int intermediate, int experts, float cf, int topK, boolean routerBias,
                             float std, float downStd, float routerStd, Rng rng) {
        super(hidden, intermediate, experts, routerBias, std, downStd, routerStd, rng);
        if (!(cf > 0) || topK <= 0 || topK > experts) {
            throw new IllegalArgumentException("ExpertChoiceLayer: capacity factor " + cf + " must be > 0 and top_k "
                    + topK + " in [1, " + experts + "]");
        }
        this.topK = topK;
        this.capacityFactor = cf;
    }

    @Override
    public Var forward(Var x) {
        Var xf = tokens(x);
        int n = xf.dim(0);
        int e = experts.count();
        Var probs = router.forward(xf).softmax(-1); // [n, E]
        // Training: expert i takes its `capacity` most probable tokens (ties: the earlier token), weighted by
        // probs[r, i]. Eval: each token takes its topK most probable experts, weighted likewise.
        Tensor mask = isTraining() ? probs.data().topKMask(0, Math.max(1, Math.round(n * capacityFactor / e)))
                : probs.data().topKMask(1, topK);
        return route(xf, mask, probs).reshape(x.shape());
    }
}
