package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;

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
        Var out;
        if (isTraining()) {
            // Expert i takes its `capacity` most probable tokens; slot (row r, expert i) is probs[r, i].
            int capacity = Math.max(1, Math.round(n * capacityFactor / e));
            int[][][] routes = new int[e][2][];
            for (int i = 0; i < e; i++) {
                int[] rows = TokenRouting.topRowsOfColumn(probs.data(), i, capacity);
                int[] slots = new int[rows.length];
                for (int j = 0; j < rows.length; j++) {
                    slots[j] = rows[j] * e + i;
                }
                routes[i][0] = rows;
                routes[i][1] = slots;
            }
            out = TokenRouting.dispatch(experts, xf, routes, probs.reshape(n * e, 1));
        } else {
            int[] top = TokenRouting.topK(probs.data(), topK);
            Var slotProbs = probs.gather(1, top, n, topK).reshape(n * topK, 1);
            out = TokenRouting.dispatch(experts, xf, TokenRouting.byExpert(top, topK, e), slotProbs);
        }
        return out.reshape(x.shape());
    }
}
