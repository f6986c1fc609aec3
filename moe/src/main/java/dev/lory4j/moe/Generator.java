package dev.lory4j.moe;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.KvCache;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

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
    /** Captured generation passes by prompt length (and the decode pass), kept across generations. */
    private final CapturedSteps steps = new CapturedSteps();
    /** The KV caches the captured passes carry. */
    private KvCache[] stepCaches;
    /** The last captured pass's logits of its last position (its tap's sink writes them). */
    private Tensor lastLogits;

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
        boolean captured = cached && (CapturedSteps.compilerFor(Backends.current()) != null
                || Boolean.getBoolean("lory4j.capture"));
        try (NoGrad ng = NoGrad.enter()) {
            Step step = captured ? new CapturedStep() : cached ? new CachedStep(out.length) : null;
            Tensor logits = step != null ? step.next(Arrays.copyOf(prompt, len), 0)
                    : lastRow(model.lm().forward(Arrays.copyOf(out, len), 1, len));
            while (len < out.length) {
                int next = sample(logits, s, rng);
                out[len++] = next;
                onToken.accept(next);
                if (next == s.stopToken() || len == out.length) {
                    break;
                }
                logits = step != null ? step.next(new int[] {next}, len - 1)
                        : lastRow(model.lm().forward(Arrays.copyOf(out, len), 1, len));
            }
        } finally { // the model's mode and routing as they were
            model.lm().train(wasTraining);
            model.setRoutingMode(wasMode);
        }
        return Arrays.copyOf(out, len);
    }

    /** The logits [vocab] of the last position of logits [1, L, vocab]. */
    private static Tensor lastRow(Var logits) {
        return logits.data().select(0, 0).select(0, logits.dim(1) - 1);
    }

    /** One forward pass over new tokens at positions start.., with a KV cache: the last position's logits. */
    private interface Step {
        Tensor next(int[] tokens, int start);
    }

    /** Eager passes over caches sized for this generation. */
    private final class CachedStep implements Step {
        private final KvCache[] caches;

        CachedStep(int capacity) {
            caches = model.lm().caches(1, capacity);
        }

        @Override
        public Tensor next(int[] tokens, int start) {
            return lastRow(model.lm().forward(tokens, 1, tokens.length, start, caches));
        }
    }

    /**
     * Captured passes ({@link CapturedSteps#pass}): the prompt's pass per prompt length and one decode pass for every
     * later token, compiled where the backend compiles them (the caches and the prompt's routing stay on the device; a
     * pass copies in its tokens and positions and out the last logits), else replayed. The caches (of
     * max_position_embeddings positions) and graphs are this generator's, reused by every generation.
     */
    private final class CapturedStep implements Step {
        private final List<Var> params = new ArrayList<>(model.lm().parameters());

        CapturedStep() {
            if (stepCaches == null) {
                stepCaches = model.lm().caches(1, model.config().decoder().maxPositions());
            }
            for (KvCache c : stepCaches) {
                c.state().forEach(t -> params.add(Var.of(t)));
            }
            for (LoryLayer l : model.loryLayers()) {
                l.promptState(1, false).forEach(t -> params.add(Var.of(t)));
            }
        }

        @Override
        public Tensor next(int[] tokens, int start) {
            int[] positions = new int[tokens.length];
            Arrays.setAll(positions, i -> start + i);
            for (KvCache c : stepCaches) {
                c.seek(start); // a replayed pass does not run the cache's code
            }
            lastLogits = null;
            // the sink is kept with the graph and called after every run: it writes a field, not a local of this call
            steps.pass(start == 0 ? "prompt " + tokens.length : "decode", params,
                    Map.of("tokens", tokens, "positions", positions), () -> Capture.tap("logits",
                            lastRow(model.lm().forward(tokens, positions, 1, tokens.length, stepCaches)),
                            t -> lastLogits = t.contiguous()));
            if (start == 0) {
                model.loryLayers().forEach(l -> l.promptState(1, true)); // the prompt's routing is in the state
            }
            return lastLogits;
        }
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
