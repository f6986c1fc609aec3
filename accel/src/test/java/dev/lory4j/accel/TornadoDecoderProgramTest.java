package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole decoder as one TornadoVM plan ({@link DecoderPlan}) gives the CPU's loss and gradients for every
 * parameter, for dense, Lory and mixed models, tied and untied embeddings, with and without a router bias; after the
 * first step only the tokens, targets and token positions go in and only the row losses come out.
 */
class TornadoDecoderProgramTest {
    private static final int B = 2;
    private static final int L = 12;
    private static final int V = 37;

    /** 0: dense, untied; 1: Lory (E = 4, T = 4) in every layer; 2: Lory in layer 1 only, router bias, tied. */
    private static MoeConfig config(int kind) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, kind == 2, 64, 0.1f, false);
        return switch (kind) {
            case 0 -> MoeConfig.dense(c);
            case 1 -> MoeConfig.lory(c, 4, 4);
            default -> new MoeConfig(c, MoeKind.LORY, 3, 4, List.of(1), true, 1, RoutingMode.PROMPT_ONLY, 0.5f,
                    0.01f, 1f);
        };
    }

    private static int[][] batch(long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * L];
        int[] y = new int[B * L];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = i % 7 == 3 ? -100 : rng.nextInt(V); // some rows skipped
        }
        return new int[][] {x, y};
    }

    /** The loss of batch {@code seed} and every parameter's gradient (copied to the host), on {@code backend}. */
    private static Map<String, Tensor> lossAndGrads(Backend backend, int kind, long seed, long other) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            MoeModel model = new MoeModel(config(kind), new Rng(5));
            int[][] xy = batch(seed);
            Var loss = model.loss(xy[0], xy[1], B, L, -100);
            if (other != 0) { // another forward pass before the backward pass of the first
                int[][] o = batch(other);
                model.loss(o[0], o[1], B, L, -100);
            }
            loss.backward();
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("loss", Tensor.scalar(loss.item()));
            model.lm().namedParameters().forEach((name, p) -> out.put(name, p.grad().copy()));
            return out;
        } finally {
            Backends.use(before);
        }
    }

    @ParameterizedTest(name = "kind={0}")
    @ValueSource(ints = {0, 1, 2})
    void lossAndEveryGradientMatchTheCpu(int kind) {
        Map<String, Tensor> cpu = lossAndGrads(new CpuBackend(), kind, 11, 0);
        TornadoBackend tornado = new TornadoBackend(0);
        Map<String, Tensor> device = lossAndGrads(tornado, kind, 11, 0);
        assertThat(tornado.decoderPlanCount()).isEqualTo(1); // the whole model ran as one plan
        tornado.close();
        assertSame(device, cpu);
    }

    @Test
    void aBackwardPassAfterAnotherForwardPassRecomputesItsOwn() {
        Map<String, Tensor> cpu = lossAndGrads(new CpuBackend(), 1, 11, 0);
        TornadoBackend tornado = new TornadoBackend(0);
        Map<String, Tensor> device = lossAndGrads(tornado, 1, 11, 12);
        tornado.close();
        assertSame(device, cpu);
    }

    /**
     * The losses agree to 1e-5 relative, each gradient to 1e-5 by norm (the bound for an offloaded op): it
     * sums over the whole backward pass in float, on the device with fma and in another order; the largest error
     * seen on PoCL was 5.3e-7.
     */
    private static void assertSame(Map<String, Tensor> device, Map<String, Tensor> cpu) {
        float expected = cpu.get("loss").item();
        assertThat(device.get("loss").item()).isCloseTo(expected, Offset.offset(1e-5f * Math.abs(expected)));
        cpu.forEach((name, t) -> {
            assertThat(t.toArray()).as(name).isNotEqualTo(new float[t.numel()]); // every gradient is non-zero
            assertThat(device.get(name).relativeErrorTo(t)).as(name).isLessThan(1e-5);
        });
    }

    /** Runs {@code body} with a fresh TornadoVM backend (every supported op on the device) as the current one. */
    private static void onTornado(java.util.function.Consumer<TornadoBackend> body) {
        Backend before = Backends.current();
        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            body.accept(tornado);
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }

    @Test
    void afterTheFirstStepOnlyTokensTargetsAndLossesCross() {
        onTornado(tornado -> {
            MoeModel model = new MoeModel(config(1), new Rng(5));
            int[][] xy = batch(11);
            model.loss(xy[0], xy[1], B, L, -100).backward();
            model.lm().zeroGrad();
            long start = tornado.bytesCopied();
            model.loss(xy[0], xy[1], B, L, -100).backward();
            // forward: tokens and targets in, row losses out; backward: targets, the scale, the token positions and
            // the vocab offsets in. No weight, activation or gradient.
            long floats = 3L * B * L + 2L * B * L + 1 + (V + 1);
            assertThat(tornado.bytesCopied() - start).isEqualTo(4 * floats);
        });
    }

    @Test
    void clippingAndAdamWRunThreeGraphsPerSixteenParameters() {
        onTornado(tornado -> {
            MoeModel model = new MoeModel(config(1), new Rng(5));
            java.util.Map<String, Var> named = model.lm().namedParameters();
            dev.lory4j.autograd.optim.AdamW opt = new dev.lory4j.autograd.optim.AdamW(named);
            int[][] xy = batch(11);
            model.loss(xy[0], xy[1], B, L, -100).backward();
            long start = tornado.decoderGraphRuns();
            double norm = dev.lory4j.autograd.optim.GradClip.clipGradNorm(model.lm().parameters(), 1e-3);
            opt.step();
            assertThat(norm).isGreaterThan(1e-3); // so the gradients were scaled too
            int batches = (named.size() + ParamPlan.BATCH - 1) / ParamPlan.BATCH;
            assertThat(named.size()).isGreaterThan(ParamPlan.BATCH); // more than one batch
            // the squared norms, the scaling and AdamW: one graph run per batch each, not one per parameter
            assertThat(tornado.decoderGraphRuns() - start).isEqualTo(3L * batches);
        });
    }

    @Test
    void badTokensFailNamingTheProgramAndTheToken() {
        onTornado(tornado -> {
            MoeModel model = new MoeModel(config(0), new Rng(5));
            int[][] xy = batch(11);
            xy[0][5] = V;
            assertThatThrownBy(() -> model.loss(xy[0], xy[1], B, L, -100))
                    .isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("decoder: token " + V + " at 5");
        });
    }
}
