package dev.lory4j.moe;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.nn.KvCache;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Text generation with a KV cache. Lory layers use prompt-only routing by default (spec §2.7): one merge per
 * layer from the prompt, reused for every generated token, so decoding costs what a dense model costs. With
 * {@link RoutingMode#PER_SEGMENT} (or {@code PREFIX}/{@code CAUSAL_SEGMENT}) every step re-runs the whole
 * sequence instead, since the routing of a segment can change once it fills up.
 */
public final class Generator {
    /**
     * Sampling settings: temperature 0 means greedy; topK 0 and topP 1 switch those filters off.
     *
     * @param stopToken generation ends after this token (-1: never)
     */
    public record Sampling(float temperature, int topK, float topP, int stopToken, long seed) {
        /** Validates the settings. */
        public Sampling {
            if (!(temperature >= 0) || topK < 0 || !(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("Sampling: temperature " + temperature + " must be >= 0, top_k "
                        + topK + " >= 0, top_p " + topP + " in (0, 1]");
            }
        }

        /** Always the most likely token. */
        public static Sampling greedy() {
            return new Sampling(0f, 0, 1f, -1, 0);
        }
    }

    private final MoeModel model;
    private final RoutingMode mode;

    /** A generator routing Lory layers as the model's config says ({@code routing_mode}; prompt-only by default). */
    public Generator(MoeModel model) {
        this(model, model.config().routingMode());
    }

    /** A generator using the given inference routing mode for Lory layers. */
    public Generator(MoeModel model, RoutingMode mode) {
        this.model = model;
        this.mode = mode;
    }

    /** The prompt followed by up to {@code maxNew} generated tokens. */
    public int[] generate(int[] prompt, int maxNew, Sampling s) {
        return generate(prompt, maxNew, s, t -> { });
    }

    /** {@link #generate(int[], int, Sampling)}, telling {@code onToken} each new token as it is sampled. */
    public int[] generate(int[] prompt, int maxNew, Sampling s, java.util.function.IntConsumer onToken) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("generate: empty prompt");
        }
        int maxLen = model.config().decoder().maxPositions();
        if (maxNew < 0) {
            throw new IllegalArgumentException("generate: maxNew " + maxNew + " must be >= 0");
        }
        if ((long) prompt.length + maxNew > maxLen) {
            throw new IllegalArgumentException("generate: prompt " + prompt.length + " + " + maxNew
                    + " new tokens exceed max_position_embeddings " + maxLen);
        }
        boolean wasTraining = model.isTraining();
        RoutingMode wasMode = model.routingMode();
        model.lm().eval();
        model.setRoutingMode(mode);
        Rng rng = new Rng(s.seed());
        int[] out = Arrays.copyOf(prompt, prompt.length + maxNew);
        int len = prompt.length;
        boolean cached = mode == RoutingMode.PROMPT_ONLY || model.loryLayers().isEmpty();
        try (NoGrad ng = NoGrad.enter()) {
            KvCache[] caches = null;
            Tensor logits;
            if (cached) {
                caches = new KvCache[model.config().decoder().numLayers()];
                Arrays.setAll(caches, i -> new KvCache());
                logits = model.lm().forward(prompt, 1, len, 0, caches).data();
            } else {
                logits = model.lm().forward(Arrays.copyOf(out, len), 1, len).data();
            }
            while (len < out.length) {
                int next = sample(logits.select(0, 0).select(0, logits.dim(1) - 1), s, rng);
                out[len++] = next;
                onToken.accept(next);
                if (next == s.stopToken() || len == out.length) {
                    break;
                }
                logits = cached ? model.lm().forward(new int[] {next}, 1, 1, len - 1, caches).data()
                        : model.lm().forward(Arrays.copyOf(out, len), 1, len).data();
            }
        } finally { // the model's mode and routing as they were
            model.lm().train(wasTraining);
            model.setRoutingMode(wasMode);
        }
        return Arrays.copyOf(out, len);
    }

    /** Picks a token from one row of logits [vocab]. */
    static int sample(Tensor logits, Sampling s, Rng rng) {
        if (s.temperature() == 0) {
            return (int) logits.argmax(0, false).item();
        }
        float[] p = logits.div(s.temperature()).softmax(0).toArray();
        Integer[] order = new Integer[p.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, (a, b) -> Float.compare(p[b], p[a]));
        int keep = s.topK() > 0 ? Math.min(s.topK(), p.length) : p.length;
        double mass = 0;
        int cut = 0;
        while (cut < keep) { // nucleus: the smallest prefix whose mass reaches top_p
            mass += p[order[cut++]];
            if (mass >= s.topP()) {
                break;
            }
        }
        double u = rng.nextFloat() * mass;
        double acc = 0;
        for (int i = 0; i < cut; i++) {
            acc += p[order[i]];
            if (u < acc) {
                return order[i];
            }
        }
        return order[cut - 1];
    }
}
