package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.Generator;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every model kind on the TornadoVM device gives the CPU's results: the training loss and every parameter's gradient
 * (≤ 1e-5 relative, by norm), the evaluation loss, the routing weights a trace records, and greedy generation with and
 * without a key-value cache. The layers are the same code on both backends; the device runs its composite kernels and
 * primitives.
 */
class TornadoModelKindsTest {
    private static final int B = 2;
    private static final int V = 37;

    /** A model kind: its config, sequence length, routing mode and whether a trace is attached. */
    private record Case(String name, MoeConfig config, int len, RoutingMode mode, boolean traced) {}

    private static Case named(String name) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
        MoeConfig lory = MoeConfig.lory(c, 4, 4);
        MoeConfig topk = new MoeConfig(c, MoeKind.TOPK, 4, 4, List.of(), false, 2, RoutingMode.PROMPT_ONLY, 0.1f,
                0.01f, 1f);
        return switch (name) {
            case "dense" -> new Case(name, MoeConfig.dense(c), 12, RoutingMode.CAUSAL_SEGMENT, false);
            case "lory" -> new Case(name, lory, 12, RoutingMode.CAUSAL_SEGMENT, false);
            case "lory-short-last-segment" -> new Case(name, lory, 14, RoutingMode.CAUSAL_SEGMENT, false);
            case "lory-traced" -> new Case(name, lory, 12, RoutingMode.CAUSAL_SEGMENT, true);
            case "lory-prefix" -> new Case(name, lory, 12, RoutingMode.PREFIX, false);
            case "topk" -> new Case(name, topk, 12, RoutingMode.CAUSAL_SEGMENT, true);
            case "expert-choice" -> new Case(name, topk.withKind(MoeKind.EXPERT_CHOICE), 12,
                    RoutingMode.CAUSAL_SEGMENT, false);
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static int[][] batch(int len, long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * len];
        int[] y = new int[B * len];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = i % 7 == 3 ? -100 : rng.nextInt(V); // some rows skipped
        }
        return new int[][] {x, y};
    }

    /** Training loss, every gradient, evaluation loss and the traced routing weights of one case on a backend. */
    private static Map<String, Tensor> run(Backend backend, Case c) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            MoeModel model = new MoeModel(c.config(), new Rng(5));
            model.setRoutingMode(c.mode());
            RoutingTrace trace = c.traced() ? new RoutingTrace() : null;
            model.setTrace(trace);
            int[][] xy = batch(c.len(), 11);
            Var loss = model.loss(xy[0], xy[1], B, c.len(), -100);
            loss.backward();
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("loss", Tensor.scalar(loss.item()));
            model.lm().namedParameters().forEach((name, p) -> out.put(name, p.grad().copy()));
            if (trace != null) {
                List<Float> w = new ArrayList<>();
                trace.entries().forEach(e -> {
                    for (float f : e.weights()) {
                        w.add(f);
                    }
                });
                float[] all = new float[w.size()];
                for (int i = 0; i < all.length; i++) {
                    all[i] = w.get(i);
                }
                out.put("trace", Tensor.wrap(all, all.length));
            }
            model.lm().eval();
            try (NoGrad ng = NoGrad.enter()) {
                int[][] other = batch(c.len(), 12);
                out.put("eval loss", Tensor.scalar(model.loss(other[0], other[1], B, c.len(), -100).item()));
            }
            return out;
        } finally {
            Backends.use(before);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dense", "lory", "lory-short-last-segment", "lory-traced", "lory-prefix", "topk",
        "expert-choice"})
    void trainingAndEvaluationGiveTheCpusResults(String name) {
        Case c = named(name);
        Map<String, Tensor> cpu = run(new CpuBackend(), c);
        TornadoBackend tornado = new TornadoBackend(0);
        Map<String, Tensor> device = run(tornado, c);
        assertThat(tornado.bytesCopied()).as("the device ran").isPositive();
        tornado.close();
        assertThat(device.keySet()).isEqualTo(cpu.keySet());
        cpu.forEach((key, want) -> {
            Tensor got = device.get(key);
            if (want.numel() == 1) {
                assertThat(got.item()).as(key).isCloseTo(want.item(), Offset.offset(1e-5f * Math.abs(want.item())));
            } else {
                assertThat(want.toArray()).as(key).isNotEqualTo(new float[want.numel()]); // every gradient non-zero
                assertThat(got.relativeErrorTo(want)).as(key).isLessThan(1e-5);
            }
        });
    }

    /** Greedy tokens after a prompt on a backend. */
    private static int[] generate(Backend backend, MoeConfig config, RoutingMode mode) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            MoeModel model = new MoeModel(config, new Rng(6));
            return new Generator(model, mode).generate(new int[] {3, 1, 4, 1, 5, 9, 2}, 6,
                    Generator.Sampling.greedy());
        } finally {
            Backends.use(before);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dense", "lory-prompt-only", "lory-per-segment", "topk"})
    void generationGivesTheCpusTokens(String name) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, true, 64, 0.5f, false);
        MoeConfig config = switch (name) {
            case "dense" -> MoeConfig.dense(c);
            case "topk" -> MoeConfig.lory(c, 4, 4).withKind(MoeKind.TOPK);
            default -> MoeConfig.lory(c, 4, 4);
        };
        RoutingMode mode = name.equals("lory-per-segment") ? RoutingMode.PER_SEGMENT : RoutingMode.PROMPT_ONLY;
        int[] want = generate(new CpuBackend(), config, mode);
        TornadoBackend tornado = new TornadoBackend(0);
        int[] got = generate(tornado, config, mode);
        tornado.close();
        assertThat(want).hasSize(13);
        assertThat(got).containsExactly(want);
    }
}
