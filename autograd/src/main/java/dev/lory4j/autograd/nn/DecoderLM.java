package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.autograd.composite.Kernels;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A LLaMA-style decoder language model with Hugging Face parameter names: {@code model.embed_tokens},
 * {@code model.layers.{i}.*}, {@code model.norm}, and {@code lm_head} (absent when the embeddings are tied).
 */
public final class DecoderLM extends Module {
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
        if (caches != null && caches.length != config.numLayers()) {
            throw new IllegalArgumentException("DecoderLM: " + caches.length + " caches for " + config.numLayers()
                    + " layers");
        }
        Var h = hidden(tokens, batch, seqLen, start, caches);
        return lmHead == null ? h.matmul(model.embed.weight().t()) : lmHead.forward(h);
    }

    /** The final (normed) hidden states [batch, seqLen, hidden] that the head turns into logits. */
    private Var hidden(int[] tokens, int batch, int seqLen, int start, KvCache[] caches) {
        if (tokens.length != batch * seqLen) {
            throw new IllegalArgumentException("DecoderLM: " + tokens.length + " tokens for batch " + batch
                    + " x length " + seqLen);
        }
        Var h = model.embed.forward(tokens, batch, seqLen);
        for (int i = 0; i < model.layers.size(); i++) {
            h = model.layers.get(i).forward(h, start, caches == null ? null : caches[i]);
        }
        return model.norm.forward(h);
    }

    /**
     * Whether {@link #loss} may run the whole model as one program of a device backend
     * ({@code -Dlory4j.decoderProgram}, default true, read at each call); false runs it op by op there too.
     */
    private static boolean programs() {
        return Boolean.parseBoolean(System.getProperty("lory4j.decoderProgram", "true"));
    }

    /**
     * Mean next-token cross-entropy of the logits for {@code tokens} against {@code targets} (ignoreIndex skipped):
     * the final hidden states, then the head and the loss as one composite op
     * ({@link Composites#LINEAR_CROSS_ENTROPY}), so a backend with a kernel for it need not hand out the logits.
     * Interim (issue #15): when a backend offers a whole-decoder program ({@link Kernels#decoder}), the model is that
     * one program (only tokens in, only the loss out).
     */
    public Var loss(int[] tokens, int[] targets, int batch, int seqLen, int ignoreIndex) {
        Backend backend = Backends.current();
        Var whole = programs() && Kernels.hasDecoder(backend)
                ? programLoss(backend, tokens, targets, batch, seqLen, ignoreIndex) : null;
        if (whole != null) {
            return whole;
        }
        Var head = lmHead == null ? model.embed.weight() : lmHead.weight();
        return hidden(tokens, batch, seqLen, 0, null).linearCrossEntropy(head, targets, ignoreIndex);
    }

    /** The loss as one op of the backend's whole-decoder program, or null when it has none for this model. */
    private Var programLoss(Backend backend, int[] tokens, int[] targets, int batch, int seqLen, int ignoreIndex) {
        if (tokens.length != batch * seqLen || targets.length != tokens.length) {
            throw new IllegalArgumentException("DecoderLM.loss: " + tokens.length + " tokens and " + targets.length
                    + " targets for batch " + batch + " x length " + seqLen);
        }
        List<Var> params = new ArrayList<>();
        List<DecoderSpec.FeedForward> ffs = new ArrayList<>();
        params.add(model.embed.weight());
        for (DecoderBlock block : model.layers.items()) {
            List<Var> own = block.deviceParams();
            if (own == null) {
                return null;
            }
            ffs.add(block.mlp().deviceForm());
            params.addAll(own);
        }
        params.add(model.norm.weight());
        if (lmHead != null) {
            params.add(lmHead.weight());
        }
        DecoderSpec spec = new DecoderSpec(config.vocabSize(), config.hiddenSize(), config.numHeads(),
                config.intermediateSize(), config.rmsNormEps(), lmHead == null, ffs);
        Tensor[] data = params.stream().map(Var::data).toArray(Tensor[]::new);
        Tensor[] tables = model.rope.tables(0, seqLen);
        DecoderProgram program = Kernels.decoder(backend, spec, data, tables[0], tables[1], batch, seqLen,
                ignoreIndex);
        if (program == null) {
            return null;
        }
        int[] tok = tokens.clone();
        int[] tgt = targets.clone();
        float loss = program.loss(tok, tgt);
        return Var.custom("decoderLoss", Tensor.scalar(loss), params.toArray(Var[]::new),
                (g, needs) -> program.grads(tok, tgt, g.item()));
    }
}
