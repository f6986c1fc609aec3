package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A training step compiled for the TornadoVM device ({@link GraphPlan}: traced once, every node a device task, every
 * buffer resident) gives the CPU's eager loss and gradients for a new batch (≤ 1e-5 relative, by norm), and the step
 * copies exactly its inputs in (tokens, targets, the tokens as lists per vocabulary row for the embedding's
 * gradient) and its loss out: nothing else crosses. The token-level baselines (top-k with its auxiliary loss, Expert
 * Choice) route on the device: their masks are graph nodes.
 */
class TornadoCompiledStepTest {
    private static final int B = 2;
    private static final int V = 37;

    private static int[][] batch(int len, long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * len];
        int[] y = new int[B * len];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = (i + seed) % 7 == 3 ? -100 : rng.nextInt(V);
        }
        return new int[][] {x, y};
    }

    private static MoeModel model(String kind, RoutingMode mode) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, kind.equals("tied"), 64, 0.1f, false);
        MoeConfig config = switch (kind) {
            case "lory" -> MoeConfig.lory(c, 4, 4);
            case "topk" -> MoeConfig.lory(c, 4, 4).withKind(MoeKind.TOPK);
            case "expert-choice" -> MoeConfig.lory(c, 4, 4).withKind(MoeKind.EXPERT_CHOICE);
            default -> MoeConfig.dense(c);
        };
        MoeModel m = new MoeModel(config, new Rng(5));
        m.setRoutingMode(mode);
        return m;
    }

    /** TornadoVM's count of the bytes one compiled step of a dense model of this width copies. */
    private static long profiledStepBytes(int hidden) {
        int len = 12;
        int[][] a = batch(len, 1);
        int[][] b = batch(len, 2);
        Backend before = Backends.current();
        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        System.setProperty("lory4j.tornado.profile", "true");
        try {
            DecoderConfig c = new DecoderConfig(V, hidden, 2, 2, hidden + 8, 1e-5f, 10000, false, 64, 0.1f, false);
            MoeModel model = new MoeModel(MoeConfig.dense(c), new Rng(5));
            List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
            CapturedSteps steps = new CapturedSteps();
            steps.run("k", params, Map.of("tokens", a[0], "targets", a[1]), () -> model.loss(a[0], a[1], B, len, -100),
                    g -> { });
            model.lm().zeroGrad();
            long profiled = tornado.profiledGraphBytes();
            steps.run("k", params, Map.of("tokens", b[0], "targets", b[1]), () -> model.loss(b[0], b[1], B, len, -100),
                    g -> { });
            return tornado.profiledGraphBytes() - profiled;
        } finally {
            System.clearProperty("lory4j.tornado.profile");
            Backends.use(before);
            tornado.close();
        }
    }

    @org.junit.jupiter.api.Test
    void whatAStepCopiesDoesNotGrowWithTheModel() {
        // twice the width: four times the weights, twice the activations; the same tasks and inputs
        assertThat(profiledStepBytes(32)).isEqualTo(profiledStepBytes(16));
    }

    @ParameterizedTest(name = "{0} L={1} {2}")
    @CsvSource({"dense, 12, CAUSAL_SEGMENT", "tied, 12, CAUSAL_SEGMENT", "lory, 12, CAUSAL_SEGMENT",
        "lory, 14, CAUSAL_SEGMENT", "lory, 12, PREFIX", "topk, 12, CAUSAL_SEGMENT", "expert-choice, 12, CAUSAL_SEGMENT"})
    void aCompiledStepGivesTheCpusResultsAndCopiesOnlyItsInputsAndLoss(String kind, int len, RoutingMode mode) {
        int[][] first = batch(len, 1);
        int[][] second = batch(len, 2);
        Backend before = Backends.current();
        Backends.use(new CpuBackend());
        MoeModel cpuModel = model(kind, mode);
        Var want = cpuModel.loss(second[0], second[1], B, len, -100);
        want.backward();
        List<Var> cpuParams = new ArrayList<>(cpuModel.lm().namedParameters().values());

        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        System.setProperty("lory4j.tornado.profile", "true"); // TornadoVM counts what its graphs copy
        try {
            MoeModel model = model(kind, mode);
            List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
            CapturedSteps steps = new CapturedSteps();
            steps.run("k", params, Map.of("tokens", first[0], "targets", first[1]),
                    () -> model.loss(first[0], first[1], B, len, -100), g -> { });
            assertThat(steps.compiled("k")).isTrue();
            model.lm().zeroGrad();
            float loss = steps.run("k", params, Map.of("tokens", second[0], "targets", second[1]),
                    () -> model.loss(second[0], second[1], B, len, -100), g -> { });
            assertThat(tornado.graphPlanCount()).isEqualTo(1);
            assertThat(Math.abs(loss - want.item())).isLessThan(1e-5f * Math.abs(want.item()));
            for (int i = 0; i < params.size(); i++) {
                assertThat(params.get(i).grad().relativeErrorTo(cpuParams.get(i).grad())).as("gradient %d", i)
                        .isLessThan(1e-5);
            }
            // a third step on the plan built by the second: tokens, targets, the token lists (V + 1 offsets and
            // B·L positions) in, one float out
            model.lm().zeroGrad();
            long bytes = tornado.bytesCopied();
            long profiled = tornado.profiledGraphBytes();
            steps.run("k", params, Map.of("tokens", first[0], "targets", first[1]),
                    () -> model.loss(first[0], first[1], B, len, -100), g -> { });
            int n = B * len;
            assertThat(tornado.bytesCopied() - bytes).isEqualTo(4L * (n + n + (V + 1) + n + 1));
            // what TornadoVM itself counted: the inputs in, plus the argument frame it writes for each kernel
            // launch (tens of bytes a task); nothing that grows with the model (see the test below)
            long frames = tornado.profiledGraphBytes() - profiled - 4L * (n + n + (V + 1) + n);
            assertThat(frames).isNotNegative().isLessThanOrEqualTo(64L * tornado.graphTaskCount());
        } finally {
            System.clearProperty("lory4j.tornado.profile");
            Backends.use(before);
            tornado.close();
        }
    }

    @org.junit.jupiter.api.Test
    void aTracedStepCopiesOutTheRoutingWeightsItUsedAndNothingElse() {
        int len = 14; // segments of 4: 4 per row, the last one short
        int[][] first = batch(len, 1);
        int[][] second = batch(len, 2);
        Backend before = Backends.current();
        Backends.use(new CpuBackend());
        MoeModel cpuModel = model("lory", RoutingMode.CAUSAL_SEGMENT);
        dev.lory4j.moe.RoutingTrace want = new dev.lory4j.moe.RoutingTrace();
        cpuModel.setTrace(want);
        cpuModel.loss(second[0], second[1], B, len, -100).backward();

        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            MoeModel model = model("lory", RoutingMode.CAUSAL_SEGMENT);
            dev.lory4j.moe.RoutingTrace trace = new dev.lory4j.moe.RoutingTrace();
            model.setTrace(trace);
            List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
            CapturedSteps steps = new CapturedSteps();
            steps.run("k", params, Map.of("tokens", first[0], "targets", first[1]),
                    () -> model.loss(first[0], first[1], B, len, -100), g -> { });
            assertThat(steps.compiled("k")).isTrue();
            trace.clear();
            model.lm().zeroGrad();
            long bytes = tornado.bytesCopied();
            steps.run("k", params, Map.of("tokens", second[0], "targets", second[1]),
                    () -> model.loss(second[0], second[1], B, len, -100), g -> { });
            int n = B * len;
            int weights = 2 * B * 4 * 4; // two layers, B rows, 4 segments, 4 experts
            assertThat(tornado.bytesCopied() - bytes).isEqualTo(4L * (n + n + (V + 1) + n + 1 + weights));
            assertThat(trace.entries()).hasSameSizeAs(want.entries()).hasSize(2 * B * 4);
            for (int i = 0; i < want.entries().size(); i++) {
                dev.lory4j.moe.RoutingTrace.Entry w = want.entries().get(i);
                dev.lory4j.moe.RoutingTrace.Entry g = trace.entries().get(i);
                assertThat(new int[] {g.layer(), g.row(), g.segment()}).isEqualTo(new int[] {w.layer(), w.row(),
                    w.segment()});
                for (int e = 0; e < 4; e++) {
                    assertThat(g.weights()[e]).as("entry %d expert %d", i, e)
                            .isCloseTo(w.weights()[e], org.assertj.core.data.Offset.offset(1e-5f));
                }
            }
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"dense", "lory", "topk", "expert-choice"})
    void compiledGenerationGivesTheCpusTokensAndADecodeStepCopiesItsTokenAndLogitsOnly(String kind) {
        // Lory routes prompt-only (its merged weights are state, like the KV caches); two generations on one
        // generator: the second replays the compiled passes
        int[][] prompts = {{3, 1, 4, 1, 5, 9, 2}, {2, 7, 1, 8}};
        Backend before = Backends.current();
        Backends.use(new CpuBackend());
        int[][] want = new int[2][];
        dev.lory4j.moe.Generator cpu = new dev.lory4j.moe.Generator(model(kind, RoutingMode.CAUSAL_SEGMENT),
                RoutingMode.PROMPT_ONLY);
        for (int i = 0; i < 2; i++) {
            want[i] = cpu.generate(prompts[i], 6, dev.lory4j.moe.Generator.Sampling.greedy());
        }
        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            dev.lory4j.moe.Generator device = new dev.lory4j.moe.Generator(model(kind, RoutingMode.CAUSAL_SEGMENT),
                    RoutingMode.PROMPT_ONLY);
            for (int i = 0; i < 2; i++) {
                List<Long> copied = new ArrayList<>();
                int[] got = device.generate(prompts[i], 6, dev.lory4j.moe.Generator.Sampling.greedy(),
                        t -> copied.add(tornado.bytesCopied()));
                assertThat(got).as("generation %d", i).containsExactly(want[i]);
                // a decode step after the first: its token and position in, the position's index lists for the caches
                // (capacity C = 64: C + 1 offsets, one position), the last logits (V floats) out
                for (int t = 2; t < copied.size(); t++) {
                    assertThat(copied.get(t) - copied.get(t - 1)).as("decode step %d", t)
                            .isEqualTo(4L * (1 + 1 + 65 + 1 + V));
                }
            }
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }

    @org.junit.jupiter.api.Test
    void aStepWithTheUpdateCopiesItsInputsHyperParametersLossAndNormOnlyAndSkipsANonFiniteStep() {
        int len = 12;
        int[][] first = batch(len, 1);
        int[][] second = batch(len, 2);
        Backend before = Backends.current();
        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            MoeModel model = model("lory", RoutingMode.CAUSAL_SEGMENT);
            List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
            dev.lory4j.autograd.optim.AdamW opt = new dev.lory4j.autograd.optim.AdamW(model.lm().namedParameters(),
                    0.01f, 0.9f, 0.999f, 1e-8f, 0.1f);
            CapturedSteps steps = new CapturedSteps();
            for (int[][] b : new int[][][] {first, second}) {
                opt.zeroGrad();
                CapturedSteps.StepResult r = steps.runAndStep("k", params, Map.of("tokens", b[0], "targets", b[1]),
                        () -> model.loss(b[0], b[1], B, len, -100), g -> { }, opt, 0.5);
                assertThat(r.norm()).isFinite().isPositive();
            }
            assertThat(opt.steps()).isEqualTo(2);
            // a third step on the plan: tokens, targets, the token lists and the 8 hyper-parameters in; the loss and
            // the clip (norm and coefficient) out
            opt.zeroGrad();
            long bytes = tornado.bytesCopied();
            steps.runAndStep("k", params, Map.of("tokens", first[0], "targets", first[1]),
                    () -> model.loss(first[0], first[1], B, len, -100), g -> { }, opt, 0.5);
            int n = B * len;
            assertThat(tornado.bytesCopied() - bytes).isEqualTo(4L * (n + n + (V + 1) + n + 8 + 1 + 2));
            assertThat(opt.steps()).isEqualTo(3);
            // a NaN in a weight: the loss is NaN, nothing is scaled or updated, the step is not counted
            Map<String, dev.lory4j.tensor.Tensor> weights = new java.util.LinkedHashMap<>();
            model.lm().namedParameters().forEach((k, v) -> weights.put(k, v.data().copy()));
            Map<String, dev.lory4j.tensor.Tensor> moments = new java.util.LinkedHashMap<>();
            opt.stateTensors().forEach((k, v) -> moments.put(k, v.copy()));
            Var poisoned = params.get(params.size() - 1);
            poisoned.data().set(Float.NaN, new int[poisoned.rank()]);
            opt.zeroGrad();
            CapturedSteps.StepResult r = steps.runAndStep("k", params, Map.of("tokens", second[0], "targets",
                    second[1]), () -> model.loss(second[0], second[1], B, len, -100), g -> { }, opt, 0.5);
            assertThat(r.loss()).isNaN();
            assertThat(r.norm()).isNaN();
            assertThat(opt.steps()).isEqualTo(3);
            model.lm().namedParameters().forEach((k, v) -> {
                if (v != poisoned) {
                    assertThat(v.data().toArray()).as(k).containsExactly(weights.get(k).toArray());
                }
            });
            opt.stateTensors().forEach((k, v) -> assertThat(v.toArray()).as(k).containsExactly(moments.get(k).toArray()));
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"lory", "expert-choice"})
    void anEvaluationPassGivesTheCpusLossAndCopiesItsTokensTargetsAndLossOnly(String kind) {
        int len = 12;
        int[][] first = batch(len, 1);
        int[][] second = batch(len, 2);
        Backend before = Backends.current();
        Backends.use(new CpuBackend());
        MoeModel cpuModel = model(kind, RoutingMode.CAUSAL_SEGMENT);
        cpuModel.lm().eval();
        float want;
        try (dev.lory4j.autograd.NoGrad ng = dev.lory4j.autograd.NoGrad.enter()) {
            want = cpuModel.lm().forward(second[0], B, len).crossEntropy(second[1], -100).item();
        }
        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            MoeModel model = model(kind, RoutingMode.CAUSAL_SEGMENT);
            model.lm().eval();
            CapturedSteps steps = new CapturedSteps();
            for (int[][] b : new int[][][] {first, second}) {
                long bytes = tornado.bytesCopied();
                Float loss = steps.compiledLoss("eval", model.lm().parameters(), Map.of("tokens", b[0], "targets",
                        b[1]), () -> model.lm().forward(b[0], B, len).crossEntropy(b[1], -100));
                assertThat(loss).isNotNull();
                if (b == second) { // the second pass: the tokens and targets in, the loss out
                    assertThat(loss).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5f * Math.abs(want)));
                    assertThat(tornado.bytesCopied() - bytes).isEqualTo(4L * (B * len + B * len + 1));
                }
            }
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }
}
