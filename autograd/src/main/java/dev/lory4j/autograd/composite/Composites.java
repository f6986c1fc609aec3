package dev.lory4j.autograd.composite;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * The composite ops of the project, each with its one reference decomposition into autograd ops. Layers call
 * these; a backend may register a fused kernel for any of them ({@link KernelProvider}), held to the reference by
 * {@link CompositeCheck}. The reference decides values and gradients: a kernel is only a faster way to get them.
 */
public final class Composites {
    private Composites() {}

    /** Arguments of {@link #ATTENTION}: causal masking (queries aligned to the last keys) and the score scale. */
    public record Attention(boolean causal, float scale) {}

    /** Arguments of {@link #SELF_ATTENTION}: the RoPE tables [L, D] of the tokens' positions and the head count. */
    public record SelfAttention(Tensor cos, Tensor sin, int heads) {}

    /**
     * Arguments of {@link #CROSS_ENTROPY} and {@link #LINEAR_CROSS_ENTROPY}: one target per row, rows with
     * {@code ignoreIndex} skipped. The array is the caller's (a captured step binds it by identity as an input), so
     * it must not change until the backward pass has run.
     */
    public record Targets(int[] targets, int ignoreIndex) {}

    /**
     * Arguments of {@link #MERGED_SWIGLU}: whether a kernel should merge the experts again in the backward pass
     * rather than keep the merged weights from the forward pass (spec §2.9's two choices; same results).
     */
    public record Merged(boolean recompute) {}

    /** y = x · Wᵀ for x [..., in], W [out, in]: a linear layer without bias. */
    public static final Composite<Void> LINEAR = new Composite<>("linear", new String[] {"x", "weight"},
            Composites::checkLinear, (v, a) -> linearReference(v[0], v[1]));

    /**
     * softmax(scale · q kᵀ [+ causal mask]) v over the last two axes of q [..., Lq, D], k [..., Lk, D],
     * v [..., Lk, Dv] (same leading axes); causal: query i sees keys j ≤ i + Lk − Lq.
     */
    public static final Composite<Attention> ATTENTION = new Composite<>("attention", new String[] {"q", "k", "v"},
            (t, a) -> checkAttention("attention", t[0], t[1], t[2], a.causal()), (v, a) -> {
                Var s = v[0].mul(a.scale()).matmul(v[1].transpose(-1, -2));
                return (a.causal() ? s.causalSoftmax() : s.softmax(-1)).matmul(v[2]);
            });

    /**
     * A multi-head causal self-attention block without a cache: for x [B, L, d], q = RoPE(x Wqᵀ), k = RoPE(x Wkᵀ),
     * v = x Wvᵀ split into H heads of D, causal {@link #ATTENTION} with scale 1/√D, heads joined, times Woᵀ.
     */
    public static final Composite<SelfAttention> SELF_ATTENTION = new Composite<>("selfAttention",
            new String[] {"x", "wq", "wk", "wv", "wo"}, Composites::checkSelfAttention, Composites::selfAttentionReference);

    /**
     * Rotary position embedding (Hugging Face rotate-half) of u [..., L, D] with the tables cos, sin [L, D]:
     * u ⊙ cos + rotate_half(u) ⊙ sin, rotate_half(u) = [−u[D/2:], u[:D/2]]. A kernel can do it in one pass forward and
     * one backward (the reference runs about six ops each way). The tables are inputs, not arguments: a captured
     * generation step looks them up by position, so they change from call to call.
     */
    public static final Composite<Void> ROPE = new Composite<>("rope", new String[] {"u", "cos", "sin"},
            (t, a) -> checkRope(t[0], t[1], t[2]), (v, a) -> ropeReference(v[0], v[1], v[2]));

    /**
     * The gate of a SwiGLU block, silu(a) ⊙ b for a and b of one shape: a kernel can do it, and its gradient, in one
     * pass over memory each (the reference runs two ops forward and about eight backward).
     */
    public static final Composite<Void> SILU_MUL = new Composite<>("siluMul", new String[] {"a", "b"},
            (t, a) -> checkSiluMul(t[0], t[1]), (v, a) -> v[0].silu().mul(v[1]));

    /** The SwiGLU feed-forward block (silu(x W1ᵀ) ⊙ x W3ᵀ) W2ᵀ for x [..., d], W1 and W3 [f, d], W2 [d', f]. */
    public static final Composite<Void> SWIGLU = new Composite<>("swiGlu", new String[] {"x", "w1", "w3", "w2"},
            (t, a) -> checkSwiGlu(t[0], t[1], t[2], t[3]),
            (v, a) -> linear(siluMul(linear(v[0], v[1]), linear(v[0], v[2])), v[3]));

    /**
     * Products with merged experts (Lory, spec §2.4, §3.2): y_s = x_s · M̄_sᵀ with M̄_s = Σ_e w[s, e] experts[e],
     * for x [S, T, b], w [S, E], experts [E, a, b]; y [S, T, a].
     */
    public static final Composite<Void> MERGED_PRODUCT = new Composite<>("mergedProduct",
            new String[] {"x", "w", "experts"}, (t, a) -> checkMerged("mergedProduct", t[0], t[1], t[2]),
            (v, a) -> v[0].matmul(merge(v[1], v[2]).transpose(-1, -2)));

    /**
     * The Lory feed-forward block (spec §2.2, §2.4): for h [S, T, d], routing weights w [S, E] and the experts'
     * gate and up [E, f, d] and down [E, d', f], Ḡ_s = Σ_e w[s, e] gate[e] (likewise Ū, D̄) and
     * y_s = (silu(h_s Ḡ_sᵀ) ⊙ h_s Ū_sᵀ) D̄_sᵀ.
     */
    public static final Composite<Merged> MERGED_SWIGLU = new Composite<>("mergedSwiGlu",
            new String[] {"h", "w", "gate", "up", "down"}, (t, a) -> checkMergedSwiGlu(t[0], t[1], t[2], t[3], t[4]),
            (v, a) -> {
                Var z = siluMul(v[0].matmul(merge(v[1], v[2]).transpose(-1, -2)),
                        v[0].matmul(merge(v[1], v[3]).transpose(-1, -2)));
                return z.matmul(merge(v[1], v[4]).transpose(-1, -2));
            });

    /**
     * The token-level mixture of SwiGLU experts (top-k and Expert Choice routing): for tokens x [n, d], a routing mask
     * [n, E] (1 where token r goes to expert e, else 0; not differentiated) and weights [n, E], the experts' gate and
     * up [E, f, d] and down [E, d', f],
     * <pre>
     *   y[r] = Σ_e mask[r, e] · weights[r, e] · (silu(x[r] gate[e]ᵀ) ⊙ x[r] up[e]ᵀ) down[e]ᵀ
     * </pre>
     * The reference runs every expert on every token (fixed shapes: a captured step can run it on a device); a
     * backend's kernel may run each expert on its routed rows only (the CPU's does).
     */
    public static final Composite<Void> ROUTED_SWIGLU = new Composite<>("routedSwiGlu",
            new String[] {"x", "mask", "weights", "gate", "up", "down"},
            (t, a) -> checkRoutedSwiGlu(t[0], t[1], t[2], t[3], t[4], t[5]), (v, a) -> {
                Var x = v[0].unsqueeze(0); // [1, n, d]: every expert on every token
                Var z = siluMul(x.matmul(v[3].transpose(-1, -2)), x.matmul(v[4].transpose(-1, -2))); // [E, n, f]
                Var y = z.matmul(v[5].transpose(-1, -2)); // [E, n, d']
                Var combine = v[1].detach().mul(v[2]).t().unsqueeze(-1); // [E, n, 1], 0 where not routed
                return y.mul(combine).sum(false, 0);
            });

    /**
     * The mean cross-entropy of logits [..., V] against one target per row, rows with the ignore index skipped (NaN
     * when all are): −mean over kept rows of logSoftmax(logits)[row, target].
     */
    public static final Composite<Targets> CROSS_ENTROPY = new Composite<>("crossEntropy", new String[] {"logits"},
            (t, a) -> checkTargets("crossEntropy", t[0], a), (v, a) -> crossEntropyReference(v[0], a));

    /**
     * A language model's head and loss: the mean cross-entropy of the logits x · Wᵀ (x [..., d], W [V, d]) against
     * one target per row, rows with the ignore index skipped (all of them ignored is an error).
     */
    public static final Composite<Targets> LINEAR_CROSS_ENTROPY = new Composite<>("linearCrossEntropy",
            new String[] {"x", "weight"}, Composites::checkHead,
            (v, a) -> linear(v[0], v[1]).crossEntropy(a.targets(), a.ignoreIndex()));

    /** Every composite op. */
    public static List<Composite<?>> all() {
        return List.of(LINEAR, ATTENTION, SELF_ATTENTION, ROPE, SILU_MUL, SWIGLU, MERGED_PRODUCT, MERGED_SWIGLU, ROUTED_SWIGLU,
                CROSS_ENTROPY, LINEAR_CROSS_ENTROPY);
    }

    /** {@link #LINEAR}: x · Wᵀ. */
    public static Var linear(Var x, Var weight) {
        return LINEAR.apply(null, x, weight);
    }

    /** {@link #SILU_MUL}: silu(a) ⊙ b. */
    public static Var siluMul(Var a, Var b) {
        return SILU_MUL.apply(null, a, b);
    }

    /** Merges experts [E, a, b] with weights [S, E] into S matrices [S, a, b] (spec §3.2: one [S,E]·[E,a·b] product). */
    public static Var merge(Var weights, Var experts) {
        int e = experts.dim(0);
        int a = experts.dim(1);
        int b = experts.dim(2);
        if (weights.rank() != 2 || weights.dim(1) != e) {
            throw new IllegalArgumentException("merge: weights " + Shapes.str(weights.shape()) + " do not match " + e
                    + " experts of shape [" + a + "," + b + "]");
        }
        return weights.matmul(experts.reshape(e, a * b)).reshape(weights.dim(0), a, b);
    }

    /** {@link #ROPE} of u [..., L, D] with the tables cos, sin [L, D]. */
    public static Var rope(Var u, Tensor cos, Tensor sin) {
        return ROPE.apply((Site) null, null, u, Var.of(cos), Var.of(sin));
    }

    private static Var ropeReference(Var u, Var cos, Var sin) {
        int dim = u.dim(-1);
        int half = dim / 2;
        Var rotated = Var.concat(-1, u.slice(-1, half, dim).neg(), u.slice(-1, 0, half));
        return u.mul(cos).add(rotated.mul(sin));
    }

    private static Var linearReference(Var x, Var w) {
        if (x.rank() == 2) {
            return x.matmul(w.t());
        }
        int[] out = x.shape();
        out[out.length - 1] = w.dim(0);
        return x.reshape(-1, w.dim(1)).matmul(w.t()).reshape(out);
    }

    private static Var crossEntropyReference(Var z, Targets a) {
        int v = z.dim(-1);
        int n = z.data().numel() / v;
        int[] safe = new int[n];
        float[] mask = new float[n];
        int count = 0;
        for (int i = 0; i < n; i++) {
            boolean kept = a.targets()[i] != a.ignoreIndex();
            safe[i] = kept ? a.targets()[i] : 0;
            mask[i] = kept ? 1f : 0f;
            count += kept ? 1 : 0;
        }
        Var picked = z.reshape(n, v).logSoftmax(1).gather(1, safe, n, 1);
        return picked.mul(Var.of(Tensor.wrap(mask, n, 1))).sum().mul(-1f / count); // 0 · (−∞) = NaN when none kept
    }

    private static Var selfAttentionReference(Var[] v, SelfAttention a) {
        Var x = v[0];
        int b = x.dim(0);
        int l = x.dim(1);
        int heads = a.heads();
        int dim = v[1].dim(0) / heads;
        Var q = rope(splitHeads(linear(x, v[1]), b, l, heads), a.cos(), a.sin());
        Var k = rope(splitHeads(linear(x, v[2]), b, l, heads), a.cos(), a.sin());
        Var val = splitHeads(linear(x, v[3]), b, l, heads);
        Var o = ATTENTION.apply(new Attention(true, (float) (1 / Math.sqrt(dim))), q, k, val);
        return linear(o.transpose(1, 2).reshape(b, l, heads * dim), v[4]);
    }

    private static Var splitHeads(Var t, int b, int l, int heads) {
        return t.reshape(b, l, heads, t.dim(2) / heads).transpose(1, 2);
    }

    // ------------------------------------------------------------------ checks (op name and shapes in every error)

    private static void checkLinear(Tensor[] t, Void a) {
        Tensor x = t[0];
        Tensor w = t[1];
        if (w.rank() != 2 || x.rank() < 1 || x.dim(-1) != w.dim(1)) {
            throw new IllegalArgumentException("linear: x " + Shapes.str(x.shape()) + " and W " + Shapes.str(w.shape())
                    + " do not fit (want x [..., in] and W [out, in])");
        }
    }

    /** Checks attention operands: q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] with the same leading axes. */
    static void checkAttention(String op, Tensor q, Tensor k, Tensor v, boolean causal) {
        int rank = q.rank();
        if (rank < 2 || k.rank() != rank || v.rank() != rank || q.dim(-1) != k.dim(-1) || k.dim(-2) != v.dim(-2)
                || (causal && q.dim(-2) > k.dim(-2))
                || !Arrays.equals(q.shape(), 0, rank - 2, k.shape(), 0, rank - 2)
                || !Arrays.equals(q.shape(), 0, rank - 2, v.shape(), 0, rank - 2)) {
            throw new IllegalArgumentException(op + ": q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape())
                    + ", v " + Shapes.str(v.shape()) + ": need [..., Lq, D], [..., Lk, D], [..., Lk, Dv] with the same "
                    + "leading axes" + (causal ? " and Lq <= Lk" : ""));
        }
    }

    private static void checkSelfAttention(Tensor[] t, SelfAttention a) {
        Tensor x = t[0];
        Tensor wq = t[1];
        Tensor wk = t[2];
        Tensor wv = t[3];
        Tensor wo = t[4];
        Tensor cos = a.cos();
        Tensor sin = a.sin();
        int heads = a.heads();
        boolean ok = x.rank() == 3 && wq.rank() == 2 && wo.rank() == 2 && cos.rank() == 2 && heads > 0
                && Arrays.equals(wq.shape(), wk.shape()) && Arrays.equals(wq.shape(), wv.shape())
                && wq.dim(1) == x.dim(2) && wq.dim(0) % heads == 0 && (wq.dim(0) / heads) % 2 == 0
                && wo.dim(1) == wq.dim(0) && Arrays.equals(cos.shape(), sin.shape())
                && cos.dim(0) == x.dim(1) && cos.dim(1) == wq.dim(0) / heads;
        if (!ok) {
            throw new IllegalArgumentException("selfAttention: x " + Shapes.str(x.shape()) + ", Wq "
                    + Shapes.str(wq.shape()) + ", Wk " + Shapes.str(wk.shape()) + ", Wv " + Shapes.str(wv.shape())
                    + ", Wo " + Shapes.str(wo.shape()) + ", cos " + Shapes.str(cos.shape()) + ", sin "
                    + Shapes.str(sin.shape()) + " and " + heads + " heads do not fit (want x [B, L, d], Wq, Wk, Wv "
                    + "[H·D, d] with D even, Wo [d', H·D], cos and sin [L, D])");
        }
    }

    private static void checkRope(Tensor u, Tensor cos, Tensor sin) {
        int[] table = {u.rank() < 2 ? -1 : u.dim(-2), u.dim(-1)};
        if (u.rank() < 2 || u.dim(-1) % 2 != 0 || !Arrays.equals(cos.shape(), table)
                || !Arrays.equals(sin.shape(), table)) {
            throw new IllegalArgumentException("rope: u " + Shapes.str(u.shape()) + ", cos " + Shapes.str(cos.shape())
                    + " and sin " + Shapes.str(sin.shape()) + " do not fit (want u [..., L, D] with D even, tables [L, D])");
        }
    }

    private static void checkSiluMul(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException("siluMul: a " + Shapes.str(a.shape()) + " and b " + Shapes.str(b.shape())
                    + " differ (want one shape)");
        }
    }

    private static void checkSwiGlu(Tensor x, Tensor w1, Tensor w3, Tensor w2) {
        if (x.rank() < 1 || w1.rank() != 2 || w3.rank() != 2 || w2.rank() != 2 || x.dim(-1) != w1.dim(1)
                || !Arrays.equals(w1.shape(), w3.shape()) || w2.dim(1) != w1.dim(0)) {
            throw new IllegalArgumentException("swiGlu: x " + Shapes.str(x.shape()) + ", W1 " + Shapes.str(w1.shape())
                    + ", W3 " + Shapes.str(w3.shape()) + " and W2 " + Shapes.str(w2.shape())
                    + " do not fit (want x [..., d], W1 and W3 [f, d], W2 [d', f])");
        }
    }

    private static void checkMerged(String op, Tensor x, Tensor w, Tensor experts) {
        if (experts.rank() != 3 || w.rank() != 2 || x.rank() != 3 || w.dim(1) != experts.dim(0)
                || x.dim(0) != w.dim(0) || x.dim(2) != experts.dim(2)) {
            throw new IllegalArgumentException(op + ": x " + Shapes.str(x.shape()) + ", w " + Shapes.str(w.shape())
                    + " and experts " + Shapes.str(experts.shape())
                    + " do not fit (want x [S, T, b], w [S, E], experts [E, a, b])");
        }
    }

    private static void checkMergedSwiGlu(Tensor h, Tensor w, Tensor gate, Tensor up, Tensor down) {
        if (h.rank() != 3 || w.rank() != 2 || gate.rank() != 3 || down.rank() != 3
                || !Arrays.equals(gate.shape(), up.shape()) || w.dim(0) != h.dim(0)
                || w.dim(1) != gate.dim(0) || down.dim(0) != gate.dim(0) || h.dim(2) != gate.dim(2)
                || down.dim(2) != gate.dim(1)) {
            throw new IllegalArgumentException("mergedSwiGlu: h " + Shapes.str(h.shape()) + ", w "
                    + Shapes.str(w.shape()) + ", gate " + Shapes.str(gate.shape()) + ", up " + Shapes.str(up.shape())
                    + " and down " + Shapes.str(down.shape())
                    + " do not fit (want h [S, T, d], w [S, E], gate and up [E, f, d], down [E, d', f])");
        }
    }

    private static void checkRoutedSwiGlu(Tensor x, Tensor mask, Tensor w, Tensor gate, Tensor up, Tensor down) {
        if (x.rank() != 2 || mask.rank() != 2 || !Arrays.equals(mask.shape(), w.shape()) || gate.rank() != 3
                || down.rank() != 3 || !Arrays.equals(gate.shape(), up.shape()) || mask.dim(0) != x.dim(0)
                || mask.dim(1) != gate.dim(0) || down.dim(0) != gate.dim(0) || x.dim(1) != gate.dim(2)
                || down.dim(2) != gate.dim(1)) {
            throw new IllegalArgumentException("routedSwiGlu: x " + Shapes.str(x.shape()) + ", mask "
                    + Shapes.str(mask.shape()) + ", weights " + Shapes.str(w.shape()) + ", gate "
                    + Shapes.str(gate.shape()) + ", up " + Shapes.str(up.shape()) + " and down "
                    + Shapes.str(down.shape()) + " do not fit (want x [n, d], mask and weights [n, E], gate and up "
                    + "[E, f, d], down [E, d', f])");
        }
    }

    /** Checks logits [..., V] with one target per row, each the ignore index or a class. */
    private static void checkTargets(String op, Tensor z, Targets a) {
        if (z.rank() < 1) {
            throw new IllegalArgumentException(op + ": logits must have a class axis, got a scalar");
        }
        int v = z.dim(-1);
        int n = z.numel() / Math.max(v, 1);
        int[] targets = a.targets();
        if (targets.length != n) {
            throw new IllegalArgumentException(op + ": logits " + Shapes.str(z.shape()) + " have " + n
                    + " rows but " + targets.length + " targets were given");
        }
        for (int i = 0; i < n; i++) {
            if (targets[i] != a.ignoreIndex() && (targets[i] < 0 || targets[i] >= v)) {
                throw new IndexOutOfBoundsException(op + ": target " + targets[i] + " at row " + i
                        + " out of range for " + v + " classes");
            }
        }
        checkSomeCounted(op, a);
    }

    /** Refuses targets that are all the ignore index (or none): a mean over no rows. */
    private static void checkSomeCounted(String op, Targets a) {
        for (int t : a.targets()) {
            if (t != a.ignoreIndex()) {
                return;
            }
        }
        throw new IllegalArgumentException(op + ": all " + a.targets().length + " targets are the ignore index "
                + a.ignoreIndex() + ": no row to average the loss over");
    }

    /** Checks a head with its targets (x [..., d], W [V, d], one target per row, each ignored or a class). */
    private static void checkHead(Tensor[] t, Targets a) {
        Tensor x = t[0];
        Tensor w = t[1];
        int[] targets = a.targets();
        if (x.rank() < 1 || w.rank() != 2 || x.dim(-1) != w.dim(1) || targets.length != x.numel() / x.dim(-1)) {
            throw new IllegalArgumentException("linearCrossEntropy: x " + Shapes.str(x.shape()) + ", W "
                    + Shapes.str(w.shape()) + " and " + targets.length
                    + " targets do not fit (want x [..., d], W [V, d], one target per row)");
        }
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != a.ignoreIndex() && (targets[i] < 0 || targets[i] >= w.dim(0))) {
                throw new IndexOutOfBoundsException("linearCrossEntropy: target " + targets[i] + " at row " + i
                        + " out of range for " + w.dim(0) + " classes");
            }
        }
        checkSomeCounted("linearCrossEntropy", a);
    }
}
