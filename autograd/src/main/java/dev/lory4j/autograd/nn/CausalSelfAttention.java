package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;

/**
 * Multi-head causal self-attention with RoPE (q/k/v/o projections without bias, as in LLaMA). A pass without a cache is
 * the composite op {@link Composites#SELF_ATTENTION} (a backend may run the block as one kernel); with a cache
 * (generation) the same steps run one by one so that the keys and values can be appended.
 */
public final class CausalSelfAttention extends Module {
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear o;
    private final int heads;
    private final int headDim;
    private final RoPE rope;

    /** Attention over {@code hidden} features split into {@code heads} heads. */
    public CausalSelfAttention(int hidden, int heads, RoPE rope, float std, float outStd, Rng rng) {
        if (heads <= 0 || hidden % heads != 0) {
            throw new IllegalArgumentException("CausalSelfAttention: hidden " + hidden + " not divisible by "
                    + heads + " heads");
        }
        this.heads = heads;
        this.headDim = hidden / heads;
        this.rope = rope;
        this.q = registerModule("q_proj", new Linear(hidden, hidden, false, std, rng));
        this.k = registerModule("k_proj", new Linear(hidden, hidden, false, std, rng));
        this.v = registerModule("v_proj", new Linear(hidden, hidden, false, std, rng));
        this.o = registerModule("o_proj", new Linear(hidden, hidden, false, outStd, rng));
    }

    /** x [B, L, hidden] at positions start.. (with a cache: appended after the cached ones); returns [B, L, hidden]. */
    public Var forward(Var x, int start, KvCache cache) {
        if (x.rank() != 3) {
            throw new IllegalArgumentException("CausalSelfAttention: input must be [B, L, hidden], got "
                    + Shapes.str(x.shape()));
        }
        int b = x.dim(0);
        int len = x.dim(1);
        if (cache == null) {
            Tensor[] tables = rope.tables(start, len);
            return Composites.SELF_ATTENTION.apply(new Composites.SelfAttention(tables[0], tables[1], heads), x,
                    q.weight(), k.weight(), v.weight(), o.weight());
        }
        if (cache.length() != start) {
            throw new IllegalArgumentException("CausalSelfAttention: tokens at position " + start + " do not follow "
                    + "the cache's " + cache.length() + " positions (clear the cache to start again)");
        }
        int[] positions = cache.positions();
        Var qh = rope.apply(split(q.forward(x), b, len), positions);
        Var kh = rope.apply(split(k.forward(x), b, len), positions);
        Var vh = split(v.forward(x), b, len);
        Tensor[] kv = cache.append(kh.data(), vh.data());
        float scale = (float) (1 / Math.sqrt(headDim));
        Var att;
        if (start == 0) { // the first tokens see only each other
            att = Var.attention(qh, kh, vh, true, scale);
        } else { // every slot of the cache, masked beyond each token's position
            Var scores = qh.mul(scale).matmul(Var.of(kv[0]).transpose(-1, -2)); // [B, H, L, C]
            att = scores.where(cache.visible(), Var.of(Tensor.scalar(Float.NEGATIVE_INFINITY))).softmax(-1)
                    .matmul(Var.of(kv[1]));
        }
        return o.forward(att.transpose(1, 2).reshape(b, len, heads * headDim));
    }

    /** The projection weights Wq, Wk, Wv, Wo. */
    java.util.List<Var> weights() {
        return java.util.List.of(q.weight(), k.weight(), v.weight(), o.weight());
    }

    private Var split(Var t, int b, int len) {
        return t.reshape(b, len, heads, headDim).transpose(1, 2);
    }
}
