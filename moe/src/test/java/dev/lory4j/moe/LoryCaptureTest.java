package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.autograd.capture.Graph;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A Lory model's traced loss-and-gradients step (the merged feed-forward block as one CPU kernel node, the routing as
 * primitives) replayed with other tokens and targets equals the eager step bit for bit, for segments that divide the
 * length and for a short last segment, kept or recomputed merged weights, and prefix routing.
 */
class LoryCaptureTest {
    private static final int B = 2;
    private static final int V = 29;

    private static int[][] batch(int len, long seed) {
        Rng rng = new Rng(seed);
        int[] x = new int[B * len];
        int[] y = new int[B * len];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(V);
            y[i] = (i + seed) % 6 == 1 ? -100 : rng.nextInt(V);
        }
        return new int[][] {x, y};
    }

    @ParameterizedTest(name = "L={0} recompute={1} mode={2}")
    @CsvSource({"12, false, CAUSAL_SEGMENT", "14, false, CAUSAL_SEGMENT", "12, true, CAUSAL_SEGMENT",
        "12, false, PREFIX"})
    void aReplayWithOtherInputsEqualsTheEagerStep(int len, boolean recompute, RoutingMode mode) {
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
        MoeModel model = new MoeModel(new MoeConfig(c, MoeKind.LORY, 4, 4, List.of(), true, 1, RoutingMode.PROMPT_ONLY,
                0.3f, 0.01f, 1f), new Rng(5));
        model.setRoutingMode(mode);
        model.setRecomputeMerged(recompute);
        List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
        int[][] first = batch(len, 1);
        Graph graph = Capture.lossAndGradients(params, Map.of("tokens", first[0], "targets", first[1]),
                () -> model.loss(first[0], first[1], B, len, -100));
        assertThat(graph.opCounts()).containsEntry("composite mergedSwiGlu", 2)
                .containsEntry("composite mergedSwiGlu backward", 2);

        int[][] second = batch(len, 2);
        model.lm().zeroGrad();
        Var eager = model.loss(second[0], second[1], B, len, -100);
        eager.backward();
        Map<String, Tensor> replay = graph.replay(params, Map.of("tokens", second[0], "targets", second[1]));
        assertThat(replay.get("loss").item()).isEqualTo(eager.item());
        for (int i = 0; i < params.size(); i++) {
            assertThat(replay.get("grad " + i).toArray()).as("gradient %d", i)
                    .containsExactly(params.get(i).grad().toArray());
        }
    }

    /** The routing trace's entries of one loss pass, eager. */
    private static List<RoutingTrace.Entry> eagerTrace(MoeModel model, int[][] b, int len) {
        RoutingTrace trace = new RoutingTrace();
        model.setTrace(trace);
        model.lm().zeroGrad();
        model.loss(b[0], b[1], B, len, -100).backward();
        model.setTrace(null);
        return trace.entries();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"LORY", "TOPK"})
    void aTracedStepHandsEachRunsRoutingToTheTrace(MoeKind kind) {
        // the weights a layer used are outputs of the graph (Capture.tap): the trace gets each run's, not the traced ones
        DecoderConfig c = new DecoderConfig(V, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
        MoeModel model = new MoeModel(new MoeConfig(c, kind, 4, 4, List.of(), true, 2, RoutingMode.PROMPT_ONLY,
                0.3f, 0.01f, 1f), new Rng(5));
        int len = 14;
        int[][] first = batch(len, 1);
        int[][] second = batch(len, 2);
        List<RoutingTrace.Entry> wantFirst = eagerTrace(model, first, len);
        List<RoutingTrace.Entry> wantSecond = eagerTrace(model, second, len);
        assertThat(wantFirst).isNotEmpty();

        RoutingTrace trace = new RoutingTrace();
        model.setTrace(trace);
        List<Var> params = new ArrayList<>(model.lm().namedParameters().values());
        dev.lory4j.autograd.capture.CapturedSteps steps = new dev.lory4j.autograd.capture.CapturedSteps();
        for (int[][] b : new int[][][] {first, second}) {
            model.lm().zeroGrad();
            steps.run("k", params, Map.of("tokens", b[0], "targets", b[1]), () -> model.loss(b[0], b[1], B, len, -100),
                    g -> assertThat(g.taps()).hasSize(2));
        }
        List<RoutingTrace.Entry> got = trace.entries();
        List<RoutingTrace.Entry> want = new ArrayList<>(wantFirst);
        want.addAll(wantSecond);
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < got.size(); i++) {
            assertThat(got.get(i).layer()).isEqualTo(want.get(i).layer());
            assertThat(got.get(i).segment()).isEqualTo(want.get(i).segment());
            assertThat(got.get(i).weights()).as("entry %d", i).containsExactly(want.get(i).weights());
        }
        assertThat(wantFirst.get(0).weights()).isNotEqualTo(wantSecond.get(0).weights());
    }
}
