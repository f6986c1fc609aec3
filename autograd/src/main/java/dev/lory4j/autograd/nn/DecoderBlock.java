package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;

/** A pre-norm block: h = x + attn(norm1(x)); out = h + mlp(norm2(h)). The mlp is any {@link Layer}. */
public final class DecoderBlock extends Module {
    private final RMSNorm inputNorm;
    private final CausalSelfAttention attention;
    private final RMSNorm postNorm;
    private final Layer mlp;

    /** A block of the given config whose feed-forward part is {@code mlp}. */
    public DecoderBlock(DecoderConfig c, RoPE rope, Layer mlp, Rng rng) {
        this.inputNorm = registerModule("input_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
        this.attention = registerModule("self_attn",
                new CausalSelfAttention(c.hiddenSize(), c.numHeads(), rope, c.initStd(), c.outputStd(), rng));
        this.postNorm = registerModule("post_attention_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
        this.mlp = registerModule("mlp", mlp);
    }

    /** x [B, L, hidden] at positions start.. (cache may be null). */
    public Var forward(Var x, int start, KvCache cache) {
        Var h = x.add(attention.forward(inputNorm.forward(x), start, cache));
        return h.add(mlp.forward(postNorm.forward(h)));
    }

    /** The feed-forward layer. */
    public Layer mlp() {
        return mlp;
    }
}
