package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Rng;
import java.util.function.IntFunction;

/**
 * A LLaMA-style decoder language model with Hugging Face parameter names: {@code model.embed_tokens},
 * {@code model.layers.{i}.*}, {@code model.norm}, and {@code lm_head} (absent when the embeddings are tied).
 */
public final class DecoderLM extends Module {
    /** The target value a loss skips (PyTorch's {@code ignore_index} default): padding and document boundaries. */
    public static final int IGNORE_INDEX = -100;

    private final DecoderConfig config;
    private final Inner model;
    private final Linear lmHead;

    /** The "model" part: embeddings, blocks and the final norm. */
    private static final class Inner extends Module {
        final Embedding embed;
        final ModuleList<DecoderBlock> layers;
        final RMSNorm norm;
        final RoPE rope;

        Inner(DecoderConfig c, Rng rng, IntFunction<Layer> mlp) {
            embed = registerModule("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize(), c.initStd(), rng));
            layers = registerModule("layers", new ModuleList<>());
            rope = new RoPE(c.headDim(), c.maxPositions(), c.ropeTheta());
            for (int i = 0; i < c.numLayers(); i++) {
                layers.add(new DecoderBlock(c, rope, mlp.apply(i), rng));
            }
            norm = registerModule("norm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
        }
    }

    /** A dense model: every block's mlp is a SwiGLU. */
    public DecoderLM(DecoderConfig config, Rng rng) {
        this(config, rng, i -> new SwiGLU(config.hiddenSize(), config.intermediateSize(), config.initStd(),
                config.outputStd(), rng));
    }

    /** A model whose block i uses {@code mlp.apply(i)} as its feed-forward layer (e.g. mixture-of-experts). */
    public DecoderLM(DecoderConfig config, Rng rng, IntFunction<Layer> mlp) {
        this.config = config;
        this.model = registerModule("model", new Inner(config, rng, mlp));
        this.lmHead = config.tieWordEmbeddings() ? null
                : registerModule("lm_head", new Linear(config.hiddenSize(), config.vocabSize(), false,
                        config.initStd(), rng));
    }

    /** The configuration. */
    public DecoderConfig config() {
        return config;
    }

    /** The blocks. */
    public ModuleList<DecoderBlock> layers() {
        return model.layers;
    }

    /** Logits [B, L, vocab] for tokens laid out [B, L] row-major. */
    public Var forward(int[] tokens, int batch, int seqLen) {
        return forward(tokens, batch, seqLen, 0, null);
    }

    /** Logits for tokens at positions start.. with optional per-layer KV caches (generation). */
    public Var forward(int[] tokens, int batch, int seqLen, int start, KvCache[] caches) {
        int[] positions = new int[seqLen];
        java.util.Arrays.setAll(positions, i -> start + i);
        return forward(tokens, positions, batch, seqLen, caches);
    }

    /**
     * Logits for tokens at {@code positions} [seqLen] (the same in every row; consecutive, from the caches' length)
     * with optional per-layer KV caches. A captured decode step names the positions as an input.
     */
    public Var forward(int[] tokens, int[] positions, int batch, int seqLen, KvCache[] caches) {
        if (caches != null && caches.length != config.numLayers()) {
            throw new IllegalArgumentException("DecoderLM: " + caches.length + " caches for " + config.numLayers()
                    + " layers");
        }
        if (positions.length != seqLen) {
            throw new IllegalArgumentException("DecoderLM: " + positions.length + " positions for length " + seqLen);
        }
        for (int i = 1; i < seqLen; i++) {
            if (positions[i] != positions[0] + i) {
                throw new IllegalArgumentException("DecoderLM: positions " + java.util.Arrays.toString(positions)
                        + " are not consecutive");
            }
        }
        if (caches != null) {
            for (KvCache c : caches) {
                c.setPositions(positions);
            }
        }
        Var h = hidden(tokens, batch, seqLen, seqLen == 0 ? 0 : positions[0], caches);
        return lmHead == null ? h.matmul(model.embed.weight().t()) : lmHead.forward(h);
    }

    /** One KV cache per layer for {@code batch} rows and up to {@code capacity} positions, allocated now. */
    public KvCache[] caches(int batch, int capacity) {
        KvCache[] c = new KvCache[config.numLayers()];
        java.util.Arrays.setAll(c, i -> new KvCache(capacity).allocate(batch, config.numHeads(), config.headDim()));
        return c;
    }

    /** The final (normed) hidden states [batch, seqLen, hidden] that the head turns into logits. */
    private Var hidden(int[] tokens, int batch, int seqLen, int start, KvCache[] caches) {
        if (batch <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("DecoderLM: batch " + batch + " x length " + seqLen
                    + ": both must be positive (an empty input has nothing to predict)");
        }
        if (tokens.length != (long) batch * seqLen) {
            throw new IllegalArgumentException("DecoderLM: " + tokens.length + " tokens for batch " + batch
                    + " x length " + seqLen);
        }
        if (start < 0 || (long) start + seqLen > config.maxPositions()) {
            throw new IllegalArgumentException("DecoderLM: positions " + start + ".." + ((long) start + seqLen - 1)
                    + " outside the model's " + config.maxPositions() + " (max_position_embeddings)");
        }
        Var h = model.embed.forward(tokens, batch, seqLen);
        for (int i = 0; i < model.layers.size(); i++) {
            h = model.layers.get(i).forward(h, start, caches == null ? null : caches[i]);
        }
        return model.norm.forward(h);
    }

    /**
     * Mean next-token cross-entropy of the logits for {@code tokens} against {@code targets} (ignoreIndex skipped):
     * the final hidden states, then the head and the loss as one composite op
     * ({@link Composites#LINEAR_CROSS_ENTROPY}), so a backend with a kernel for it need not hand out the logits.
     */
    public Var loss(int[] tokens, int[] targets, int batch, int seqLen, int ignoreIndex) {
        Var head = lmHead == null ? model.embed.weight() : lmHead.weight();
        return hidden(tokens, batch, seqLen, 0, null).linearCrossEntropy(head, targets, ignoreIndex);
    }
}
