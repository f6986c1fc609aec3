package dev.lory4j.moe;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.autograd.nn.SwiGLU;
import dev.lory4j.tensor.Rng;
import java.util.ArrayList;
import java.util.List;

/**
 * A decoder language model whose feed-forward blocks are dense SwiGLU or one of the MoE kinds
 * ({@link MoeConfig#kind()}), with the routing controls the trainer, generator and reports need.
 */
public final class MoeModel {
    private RoutingTrace trace;
    private RoutingMode routingMode = RoutingMode.CAUSAL_SEGMENT;
    private final MoeConfig config;
    private final DecoderLM lm;

    /** Builds a freshly initialised model. */
    public MoeModel(MoeConfig config, Rng rng) {
        this.config = config;
        DecoderConfig d = config.decoder();
        this.lm = new DecoderLM(d, rng, i -> feedForward(config, i, rng));
    }

    private static Layer feedForward(MoeConfig c, int layer, Rng rng) {
        DecoderConfig d = c.decoder();
        if (!c.isMoeLayer(layer)) {
            return new SwiGLU(d.hiddenSize(), d.intermediateSize(), d.initStd(), d.outputStd(), rng);
        }
        return switch (c.kind()) {
            case LORY -> new LoryLayer(layer, d.hiddenSize(), d.intermediateSize(), c.numExperts(), c.segmentLength(),
                    c.routerBias(), d.initStd(), d.outputStd(), c.routerInitStd(), rng);
            case TOPK -> new TopKMoeLayer(layer, d.hiddenSize(), d.intermediateSize(), c.numExperts(), c.topK(),
                    c.routerBias(), d.initStd(), d.outputStd(), c.routerInitStd(), rng);
            case EXPERT_CHOICE -> new ExpertChoiceLayer(d.hiddenSize(), d.intermediateSize(), c.numExperts(),
                    c.capacityFactor(), 1, c.routerBias(), d.initStd(), d.outputStd(), c.routerInitStd(), rng);
            case DENSE -> throw new IllegalStateException("unreachable");
        };
    }

    /** The configuration. */
    public MoeConfig config() {
        return config;
    }

    /** The underlying decoder (parameters, state dict, forward). */
    public DecoderLM lm() {
        return lm;
    }

    /** The feed-forward layer of every block. */
    public List<Layer> feedForwards() {
        List<Layer> out = new ArrayList<>();
        lm.layers().items().forEach(b -> out.add(b.mlp()));
        return out;
    }

    /** The Lory layers (empty for other kinds). */
    public List<LoryLayer> loryLayers() {
        List<LoryLayer> out = new ArrayList<>();
        for (Layer l : feedForwards()) {
            if (l instanceof LoryLayer ll) {
                out.add(ll);
            }
        }
        return out;
    }

    /** Sets the routing mode of every Lory layer (until the next {@link #train()} or {@link #eval()}). */
    public void setRoutingMode(RoutingMode mode) {
        routingMode = mode;
        loryLayers().forEach(l -> l.setMode(mode));
    }

    /** The routing mode of the Lory layers now. */
    public RoutingMode routingMode() {
        return routingMode;
    }

    /**
     * Training mode: dropout on and Lory layers in causal segment routing (spec §2.5), the mode a model trains in.
     * A new model starts here.
     */
    public MoeModel train() {
        lm.train(true);
        setRoutingMode(RoutingMode.CAUSAL_SEGMENT);
        return this;
    }

    /** Inference mode: dropout off and Lory layers routing as the config's {@code routing_mode} says (spec §2.7). */
    public MoeModel eval() {
        lm.eval();
        setRoutingMode(config.routingMode());
        return this;
    }

    /** Whether the model is in training mode (see {@link #train()}). */
    public boolean isTraining() {
        return lm.isTraining();
    }

    /**
     * Saves the weights (Hugging Face names) and the config to one safetensors file, atomically; {@link #load} reads
     * it back. Training checkpoints ({@link dev.lory4j.autograd.io.Checkpoint}) hold the optimizer too.
     */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        dev.lory4j.autograd.io.Checkpoint.saveWeights(file, lm, config.toMap());
    }

    /** The model saved in {@code file} (by {@link #save} or a training checkpoint), in training mode. */
    public static MoeModel load(java.nio.file.Path file) throws java.io.IOException {
        dev.lory4j.autograd.io.Checkpoint.Loaded loaded = dev.lory4j.autograd.io.Checkpoint.load(file);
        MoeConfig config;
        try {
            config = MoeConfig.fromMap(loaded.config());
        } catch (IllegalArgumentException e) {
            throw new java.io.IOException(file + ": the config in its metadata is not valid: " + e.getMessage(), e);
        }
        MoeModel model = new MoeModel(config, new Rng(0));
        loaded.restore(model.lm(), null);
        return model;
    }

    /** Lory layers recompute their merged weights in the backward pass instead of keeping them (less memory). */
    public void setRecomputeMerged(boolean on) {
        loryLayers().forEach(l -> l.setRecomputeMerged(on));
    }

    /** The routing trace attached to the MoE layers, or null. */
    public RoutingTrace trace() {
        return trace;
    }

    /** Attaches a routing trace to every MoE layer (null detaches). */
    public void setTrace(RoutingTrace trace) {
        this.trace = trace;
        for (Layer l : feedForwards()) {
            if (l instanceof LoryLayer ll) {
                ll.setTrace(trace);
            } else if (l instanceof TopKMoeLayer tk) {
                tk.setTrace(trace);
            }
        }
    }

    /** Mean next-token loss plus (for top-k) the auxiliary load-balancing loss times its coefficient. */
    public Var loss(int[] tokens, int[] targets, int batch, int seqLen, int ignoreIndex) {
        return withAuxLoss(lm.loss(tokens, targets, batch, seqLen, ignoreIndex));
    }

    /** The loss of {@link #loss(int[], int[], int, int, int)} from logits of the last forward pass. */
    public Var loss(Var logits, int[] targets, int ignoreIndex) {
        return withAuxLoss(logits.crossEntropy(targets, ignoreIndex));
    }

    /** {@code loss} plus (for top-k) the auxiliary load-balancing losses of the last forward pass. */
    private Var withAuxLoss(Var loss) {
        for (Layer l : feedForwards()) {
            if (l instanceof AuxLossLayer a && a.auxLoss() != null) {
                loss = loss.add(a.auxLoss().mul(config.auxLossCoef()));
            }
        }
        return loss;
    }
}
