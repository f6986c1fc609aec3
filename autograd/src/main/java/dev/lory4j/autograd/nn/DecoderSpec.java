package dev.lory4j.autograd.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape of a LLaMA-style decoder language model that a backend may run whole as one device program
 * ({@link dev.lory4j.autograd.composite.KernelProvider#decoder}): token embeddings, pre-norm blocks (RMSNorm, causal self-attention with RoPE, RMSNorm,
 * a feed-forward layer, each with a residual add), a final RMSNorm and the head with the next-token loss.
 *
 * <p>The parameters of such a program come in this order: the embedding table [V, d]; for each layer the input norm's
 * weight [d], Wq, Wk, Wv, Wo [d, d], the post-attention norm's weight [d], then either the dense SwiGLU's gate, up
 * [f, d] and down [d, f] weights or the Lory layer's router weight [E, d] (and its bias [E] when it has one) and the
 * expert tensors gate, up [E, f, d] and down [E, d, f]; the final norm's weight [d]; and the head [V, d] unless the
 * embeddings are tied.
 *
 * @param layers one feed-forward layer description per decoder layer
 */
public record DecoderSpec(int vocab, int hidden, int heads, int intermediate, float eps, boolean tied,
                          List<FeedForward> layers) {

    /**
     * A layer's feed-forward part: a dense SwiGLU ({@code experts == 0}) or a Lory layer with E experts merged once
     * per segment of T rows and causal segment routing (spec §2.2–2.6).
     */
    public record FeedForward(int experts, int segment, boolean routerBias) {
        /** The dense SwiGLU. */
        public static final FeedForward DENSE = new FeedForward(0, 0, false);

        /** Validates the sizes. */
        public FeedForward {
            if (experts < 0 || (experts > 0 && segment <= 0)) {
                throw new IllegalArgumentException("DecoderSpec.FeedForward: " + experts + " experts with segment "
                        + segment + " (want 0 experts, or experts > 0 and segment > 0)");
            }
        }

        /** How many parameter tensors this layer contributes. */
        public int parameterCount() {
            return experts == 0 ? 3 : routerBias ? 5 : 4;
        }

        /** Whether this is a Lory layer (else the dense SwiGLU). */
        public boolean isLory() {
            return experts > 0;
        }
    }

    /** Validates the sizes. */
    public DecoderSpec {
        if (vocab <= 0 || hidden <= 0 || heads <= 0 || intermediate <= 0 || hidden % heads != 0
                || (hidden / heads) % 2 != 0 || layers.isEmpty()) {
            throw new IllegalArgumentException("DecoderSpec: vocab " + vocab + ", hidden " + hidden + ", heads "
                    + heads + ", intermediate " + intermediate + ", " + layers.size() + " layers: sizes must be "
                    + "positive and hidden must split into heads of even size");
        }
        layers = List.copyOf(layers);
    }

    /** Size of one attention head. */
    public int headDim() {
        return hidden / heads;
    }

    /** The shapes of the parameters a program takes, in the order of the class comment. */
    public int[][] parameterShapes() {
        int d = hidden;
        int f = intermediate;
        List<int[]> shapes = new ArrayList<>();
        shapes.add(new int[] {vocab, d});
        for (FeedForward ff : layers) {
            shapes.add(new int[] {d});
            for (int i = 0; i < 4; i++) {
                shapes.add(new int[] {d, d});
            }
            shapes.add(new int[] {d});
            int e = ff.experts();
            if (e == 0) {
                shapes.addAll(List.of(new int[] {f, d}, new int[] {f, d}, new int[] {d, f}));
            } else {
                shapes.add(new int[] {e, d});
                if (ff.routerBias()) {
                    shapes.add(new int[] {e});
                }
                shapes.addAll(List.of(new int[] {e, f, d}, new int[] {e, f, d}, new int[] {e, d, f}));
            }
        }
        shapes.add(new int[] {d});
        if (!tied) {
            shapes.add(new int[] {vocab, d});
        }
        return shapes.toArray(int[][]::new);
    }
}
