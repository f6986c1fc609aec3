package dev.lory4j.autograd.capture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A traced loss-and-gradients step of a decoder replayed with other tokens and targets gives exactly what the eager
 * step gives on those (bit for bit on the CPU: the same calls in the same order).
 */
class CaptureTest {
    private static final int B = 2;
    private static final int L = 9;
    private static final int V = 23;

    static int[][] batch(long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * L];
        int[] y = new int[B * L];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = (i + seed) % 5 == 2 ? -100 : rng.nextInt(V); // other rows skipped in each batch
        }
        return new int[][] {x, y};
    }

    /** Asserts that the replay's outputs equal the eager loss and gradients exactly. */
    static void assertSameAsEager(Map<String, Tensor> replay, Var eagerLoss, List<Var> params) {
        assertThat(replay.get("loss").item()).isEqualTo(eagerLoss.item());
        for (int i = 0; i < params.size(); i++) {
            assertThat(replay.get("grad " + i).toArray()).as("gradient %d", i)
                    .containsExactly(params.get(i).grad().toArray());
        }
    }

    @ParameterizedTest(name = "tied={0}")
    @ValueSource(booleans = {false, true})
    void aReplayWithOtherInputsEqualsTheEagerStep(boolean tied) {
        DecoderLM lm = new DecoderLM(new DecoderConfig(V, 12, 2, 3, 20, 1e-5f, 10000, tied, 32, 0.2f, false),
                new Rng(4));
        List<Var> params = new ArrayList<>(lm.namedParameters().values());
        int[][] first = batch(1);
        Graph graph = Capture.lossAndGradients(params, Map.of("tokens", first[0], "targets", first[1]),
                () -> lm.loss(first[0], first[1], B, L, -100));
        float tracedLoss = graph.replay(params, Map.of("tokens", first[0], "targets", first[1])).get("loss").item();
        assertThat(graph.opCounts()).containsKeys("indexSelect", "matmul", "rmsNorm", "composite attention",
                "composite crossEntropy backward");

        int[][] second = batch(2);
        lm.zeroGrad();
        Var eager = lm.loss(second[0], second[1], B, L, -100);
        eager.backward();
        Map<String, Tensor> replay = graph.replay(params, Map.of("tokens", second[0], "targets", second[1]));
        assertThat(replay.get("loss").item()).isNotEqualTo(tracedLoss); // the inputs reached the graph
        assertSameAsEager(replay, eager, params);
        // a second replay reuses the temporaries the first gave back, with the same results
        Map<String, Tensor> again = graph.replay(params, Map.of("tokens", second[0], "targets", second[1]));
        assertThat(graph.reusedAllocations()).isPositive();
        assertSameAsEager(again, eager, params);
    }

    @org.junit.jupiter.api.Test
    void anEvaluationPassReplaysWithOtherInputs() {
        DecoderLM lm = new DecoderLM(new DecoderConfig(V, 12, 2, 3, 20, 1e-5f, 10000, false, 32, 0.2f, false),
                new Rng(4));
        List<Var> params = new ArrayList<>(lm.namedParameters().values());
        int[][] first = batch(1);
        Graph graph = Capture.loss(params, Map.of("tokens", first[0], "targets", first[1]),
                () -> lm.loss(first[0], first[1], B, L, -100));
        assertThat(graph.outputs()).containsOnlyKeys("loss");
        assertThat(params.get(0).grad()).isNull();
        int[][] second = batch(2);
        float eager;
        try (dev.lory4j.autograd.NoGrad ng = dev.lory4j.autograd.NoGrad.enter()) {
            eager = lm.loss(second[0], second[1], B, L, -100).item();
        }
        assertThat(graph.replay(params, Map.of("tokens", second[0], "targets", second[1])).get("loss").item())
                .isEqualTo(eager).isNotEqualTo(graph.traced().get("loss").item());
    }

    @org.junit.jupiter.api.Test
    void badUseIsNamed() {
        DecoderLM lm = new DecoderLM(new DecoderConfig(V, 12, 1, 3, 20, 1e-5f, 10000, true, 32, 0.2f, false),
                new Rng(4));
        List<Var> params = new ArrayList<>(lm.namedParameters().values());
        int[][] b = batch(1);
        Graph graph = Capture.lossAndGradients(params, Map.of("tokens", b[0], "targets", b[1]),
                () -> lm.loss(b[0], b[1], B, L, -100));
        assertThatThrownBy(() -> graph.replay(params, Map.of("tokens", new int[3], "targets", b[1])))
                .hasMessageContaining("input 'tokens' has 3 elements, traced with 18");
        assertThatThrownBy(() -> graph.replay(params, Map.of("tokens", b[0])))
                .hasMessageContaining("inputs [tokens] differ");
        assertThatThrownBy(() -> Capture.lossAndGradients(params, Map.of("tokens", b[0], "targets", b[1]),
                () -> lm.loss(b[0], b[1], B, L, -100))).hasMessageContaining("already has a gradient");
    }
}
