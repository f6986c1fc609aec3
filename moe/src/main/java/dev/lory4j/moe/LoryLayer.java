package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.autograd.composite.Site;
import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.autograd.nn.Linear;
import dev.lory4j.autograd.nn.SwiGLU;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.List;

/**
 * The Lory mixture-of-experts layer: a fully differentiable MoE that merges its experts in parameter space once
 * per segment and routes causally (Zhong et al. 2024; spec = {@code lory-spec.md}). For input x [B, L, d]:
 *
 * <pre>
 *   segments   S_k = rows kT .. kT+T-1 of a row                         (§1; the last one may be shorter)
 *   h̄_k        = mean of the rows of S_k                                (§2.4, Eq. 3)
 *   e_k        = softmax(W_r h̄_k (+ b_r))                               (§2.3; no top-k, noise or aux loss)
 *   e_used[0]  = stopgrad(e_0);  e_used[k] = e_{k-1} for k ≥ 1           (§2.5–2.6, causal segment routing)
 *   θ̄_k        = Σ_i e_used[k]_i θ_i   for θ = (W1, W3, W2)              (§2.4, {@link ExpertMerge})
 *   y[S_k]     = W̄2_k (SiLU(W̄1_k x) ⊙ W̄3_k x)                          (§2.2, SwiGLU with the merged weights)
 * </pre>
 *
 * The shift is built per row ({@code concat(detach(e[:, :1]), e[:, :N-1])} along the segment axis), never by a
 * flattened roll, so rows stay independent (§2.5 note, fact F6). Gradients (§3) come from the autograd ops
 * (the softmax backward, the mean's 1/T spread into the previous segment, §3.4) and, for the merge and the
 * merged SwiGLU, from the composite op {@link Composites#MERGED_SWIGLU} (one reference decomposition; the CPU's
 * fused kernel writes out the gradients of §3.2–3.3).
 *
 * <p><b>Lengths that are not a multiple of T</b> (spec §10.5, our decision): the last segment is shorter; its
 * mean averages only its real rows (it routes nothing anyway), and a row shorter than T is one segment that
 * routes itself under the stop-gradient. Internally the input is zero-padded to a multiple of T and the padded
 * rows' outputs are dropped; the padding never enters a mean.
 *
 * <p>Other routing modes ({@link RoutingMode}): prompt-only (inference default: one merge per row from the mean
 * of the whole prompt, cached so that generated tokens reuse it), per-segment inference, and prefix routing.
 */
public final class LoryLayer extends Layer {
    private final int layerIndex;
    private final int segmentLength;
    private final Linear router;
    private final ExpertBank experts;
    private RoutingMode mode = RoutingMode.CAUSAL_SEGMENT;
    private boolean recomputeMerged;
    private RoutingTrace trace;
    /**
     * Prompt-only routing state: the per-row merged SwiGLU weights [B, f, d], [B, f, d], [B, d, f], written in place
     * by the prompt pass ({@link Capture#assign}: a captured generation step carries them), read by later passes.
     */
    private Tensor[] promptMerged;
    private boolean promptRouted;
    /** Where a kernel keeps this layer's scratch between steps (e.g. the merged weights for the backward pass). */
    private final Site site = new Site();

    /**
     * A layer with E experts of shape hidden -> intermediate -> hidden, segment length T, and a router drawn
     * from N(0, routerStd^2) (random, never zero: fact F9).
     */
    public LoryLayer(int layerIndex, int hidden, int intermediate, int experts, int segmentLength, boolean routerBias,
                     float std, float downStd, float routerStd, Rng rng) {
        if (segmentLength <= 0) {
            throw new IllegalArgumentException("LoryLayer: segment length " + segmentLength + " must be positive");
        }
        this.layerIndex = layerIndex;
        this.segmentLength = segmentLength;
        this.router = registerModule("router", new Linear(hidden, experts, routerBias, routerStd, rng));
        this.experts = registerModule("experts", new ExpertBank(experts, hidden, intermediate, std, downStd, rng));
    }

    /**
     * When on, the merged weights are not kept for the backward pass but merged again there
     * ({@link Composites.Merged}): saves the layer's buffer of 3·S·d·d' floats for one extra merge. Same results.
     */
    public void setRecomputeMerged(boolean on) {
        this.recomputeMerged = on;
    }

    /** Sets the routing mode; clears any prompt-only state. */
    public void setMode(RoutingMode mode) {
        this.mode = mode;
        this.promptRouted = false;
    }

    /** The routing mode. */
    public RoutingMode mode() {
        return mode;
    }

    /** Attaches a trace that records the weights used (null detaches). */
    public void setTrace(RoutingTrace trace) {
        this.trace = trace;
    }

    /** Forgets the prompt-only routing of the previous prompt (call before a new generation). */
    public void resetPromptState() {
        promptRouted = false;
    }

    /**
     * The prompt-only routing state for {@code batch} rows (the merged weights, made now if needed): the tensors a
     * captured generation step carries. {@code routed} says whether they hold the current prompt's routing: a caller
     * that replays captured passes (which do not run this class) sets it after the prompt pass.
     */
    public List<Tensor> promptState(int batch, boolean routed) {
        int f = experts.gate().dim(1);
        int d = experts.gate().dim(2);
        if (promptMerged == null || promptMerged[0].dim(0) != batch) {
            promptMerged = new Tensor[] {Tensor.zeros(batch, f, d), Tensor.zeros(batch, f, d),
                Tensor.zeros(batch, d, f)};
            for (Tensor t : promptMerged) {
                t.storage().markResident();
            }
        }
        promptRouted = routed;
        return List.of(promptMerged);
    }

    /** The router (a linear layer hidden -> E). */
    public Linear router() {
        return router;
    }

    /** The stacked experts. */
    public ExpertBank experts() {
        return experts;
    }

    /** Segment length T. */
    public int segmentLength() {
        return segmentLength;
    }

    /** Upcycling (spec §2.8): every expert becomes a copy of {@code dense}; the router is re-drawn at random. */
    public void upcycleFrom(SwiGLU dense, float routerStd, Rng rng) {
        experts.copyFromDense(dense);
        router.weight().data().copyFrom(rng.normal(0f, routerStd, router.weight().shape()));
        if (router.bias() != null) {
            router.bias().data().fill(0f);
        }
    }

    @Override
    public Var forward(Var x) {
        if (x.rank() != 3) {
            throw new IllegalArgumentException("LoryLayer: input must be [B, L, d], got " + Shapes.str(x.shape()));
        }
        if (mode == RoutingMode.PROMPT_ONLY) {
            return forwardPromptOnly(x);
        }
        int b = x.dim(0);
        int len = x.dim(1);
        int d = x.dim(2);
        int t = segmentLength;
        int n = (len + t - 1) / t;
        int padded = n * t;
        Var xp = padded == len ? x : Var.concat(1, x, Var.of(Tensor.zeros(b, padded - len, d)));
        Var segments = xp.reshape(b, n, t, d);

        // §2.4, Eq. 3: h̄_k, the mean of the real rows of each segment.
        Var means = segments.sum(false, 2).mul(Var.of(inverseCounts(len, n, t)));
        // §2.3: routing distribution of every segment from its own mean.
        Var eAll = router.forward(means).softmax(-1);
        // §2.5–2.6 (or the ablation of §2.11): the weights each segment actually uses.
        Var eUsed = mode == RoutingMode.PREFIX ? prefixRouting(eAll) : causalSegmentRouting(eAll);
        record(eUsed, b, n);

        // §2.4: one merged FFN per (row, segment), applied to that segment's T rows (§2.2).
        Var w = eUsed.reshape(b * n, experts.count());
        Var h = segments.reshape(b * n, t, d);
        Var y = swiGlu(h, w).reshape(b, padded, d);
        return padded == len ? y : y.slice(1, 0, len);
    }

    /** [1, n, 1] with 1 / (number of real rows) of each segment. */
    private static Tensor inverseCounts(int len, int n, int t) {
        float[] inv = new float[n];
        for (int k = 0; k < n; k++) {
            inv[k] = 1f / Math.min(t, len - k * t);
        }
        return Tensor.wrap(inv, 1, n, 1);
    }

    /** §2.5: e_used[:, 0] = stopgrad(e[:, 0]); e_used[:, k] = e[:, k-1]; built per row, never rolled. */
    static Var causalSegmentRouting(Var eAll) {
        int n = eAll.dim(1);
        Var first = eAll.slice(1, 0, 1).detach();
        return n == 1 ? first : Var.concat(1, first, eAll.slice(1, 0, n - 1));
    }

    /** §2.11: every segment uses the first segment's weights (segment 0 itself under the stop-gradient). */
    static Var prefixRouting(Var eAll) {
        int b = eAll.dim(0);
        int n = eAll.dim(1);
        Var first = eAll.slice(1, 0, 1);
        return n == 1 ? first.detach()
                : Var.concat(1, first.detach(), first.expand(b, n - 1, eAll.dim(2)));
    }

    /**
     * SwiGLU of h [S, T, d] with the experts merged by w [S, E] (one merged FFN per s):
     * <pre>
     *   W̄ = ExpertMerge.merge(w, W) for W = gate, up, down
     *   y = (silu(h W̄_gateᵀ) ⊙ (h W̄_upᵀ)) W̄_downᵀ
     * </pre>
     * the composite op {@link Composites#MERGED_SWIGLU}, whose reference is these equations in autograd ops. A
     * backend's kernel for it may keep the merged weights in this layer's site for the backward pass (or merge again
     * there when {@link #setRecomputeMerged recomputing}), or run the whole block where the experts are (a device).
     */
    private Var swiGlu(Var h, Var w) {
        return Composites.MERGED_SWIGLU.apply(site, new Composites.Merged(recomputeMerged), h, w, experts.gate(),
                experts.up(), experts.down());
    }

    /** §2.7: one routing per row from the mean of the whole prompt, reused for every later token. */
    private Var forwardPromptOnly(Var x) {
        int b = x.dim(0);
        Var[] merged;
        if (!promptRouted || promptMerged[0].dim(0) != b) { // the prompt: route it, keep the merged weights
            Var e = router.forward(x.mean(false, 1)).softmax(-1); // [B, E]
            record(e.unsqueeze(1), b, 1);
            merged = new Var[] {ExpertMerge.merge(e, experts.gate()), ExpertMerge.merge(e, experts.up()),
                ExpertMerge.merge(e, experts.down())};
            List<Tensor> state = promptState(b, true);
            for (int i = 0; i < 3; i++) {
                Capture.assign(state.get(i), merged[i].data());
            }
        } else { // a later token: the prompt's merged weights
            merged = new Var[] {Var.of(promptMerged[0]), Var.of(promptMerged[1]), Var.of(promptMerged[2])};
        }
        Var z = x.matmul(merged[0].transpose(-1, -2)).silu().mul(x.matmul(merged[1].transpose(-1, -2)));
        return z.matmul(merged[2].transpose(-1, -2));
    }

    /**
     * Hands the weights used to the attached trace: at once, or after each run of a captured step (where they are an
     * output: {@link Capture#tap}).
     */
    private void record(Var eUsed, int b, int n) {
        if (trace != null) {
            int e = experts.count();
            Capture.tap("routing " + layerIndex, eUsed.data(), w -> {
                RoutingTrace now = trace;
                if (now != null) {
                    now.record(layerIndex, b, n, e, w.contiguous().toArray());
                }
            });
        }
    }
}
