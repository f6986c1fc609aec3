package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.autograd.capture.Graph;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A step traced on the TornadoVM device (its kernel, linear, as nodes, the rest as primitives) and replayed there with
 * another batch gives the CPU's eager loss and gradients for that batch (≤ 1e-5 relative, by norm).
 */
class TornadoCaptureTest {
    private static final int B = 2;
    private static final int L = 12;
    private static final int V = 37;

    private static int[][] batch(long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * L];
        int[] y = new int[B * L];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = (i + seed) % 7 == 3 ? -100 : rng.nextInt(V);
        }
        return new int[][] {x, y};
    }

    private static MoeModel model(boolean lory) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
        return new MoeModel(lory ? MoeConfig.lory(c, 4, 4) : MoeConfig.dense(c), new Rng(5));
    }

    @ParameterizedTest(name = "lory={0}")
    @ValueSource(booleans = {false, true})
    void aStepTracedOnTheDeviceReplaysThereWithTheCpusResults(boolean lory) {
        int[][] first = batch(1);
        int[][] second = batch(2);
        Backend before = Backends.current();
        Backends.use(new CpuBackend());
        MoeModel cpuModel = model(lory);
        Var want = cpuModel.loss(second[0], second[1], B, L, -100);
        want.backward();
        List<Var> cpuParams = new ArrayList<>(cpuModel.lm().namedParameters().values());

        TornadoBackend tornado = new TornadoBackend(0);
        Backends.use(tornado);
        try {
            MoeModel model = model(lory);
            List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
            Graph graph = Capture.lossAndGradients(params, Map.of("tokens", first[0], "targets", first[1]),
                    () -> model.loss(first[0], first[1], B, L, -100));
            // the device's composite kernels (linear, weights resident; the cross-entropy on the host) are nodes; every
            // other composite its reference in primitives
            assertThat(graph.opCounts()).containsKey("composite linear").containsKey("composite crossEntropy")
                    .doesNotContainKey("composite selfAttention")
                    .doesNotContainKey(lory ? "composite mergedSwiGlu" : "composite swiGlu");
            Map<String, Tensor> got = graph.replay(params, Map.of("tokens", second[0], "targets", second[1]));
            assertThat(got.get("loss").item()).isCloseTo(want.item(), Offset.offset(1e-5f * want.item()));
            for (int i = 0; i < params.size(); i++) {
                assertThat(got.get("grad " + i).relativeErrorTo(cpuParams.get(i).grad())).as("gradient %d", i)
                        .isLessThan(1e-5);
            }
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }
}
