package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import java.util.List;

/** A module with one input and one output, such as a feed-forward block (dense SwiGLU or a mixture of experts). */
public abstract class Layer extends Module {
    /** Applies the layer. */
    public abstract Var forward(Var x);

    /**
     * What this layer is to a backend's whole-decoder program ({@link DecoderSpec.FeedForward}), or null (the
     * default) when such a program cannot run it as it is now, and the model runs op by op.
     */
    public DecoderSpec.FeedForward deviceForm() {
        return null;
    }

    /** The parameters of {@link #deviceForm()} in {@link DecoderSpec}'s order. */
    public List<Var> deviceParams() {
        return List.of();
    }
}
