package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The worked numbers of spec §9 A–F, reproduced to 1e-5. */
class LoryWorkedExamplesTest {
    static final float[][] X = {{1, 0}, {0, 1}, {1, 1}, {2, -1}, {-1, 2}, {0.5f, 0.5f}};

    /** The §9 B layer: d = 2, d' = 2, E = 2, T = 2, router without bias. */
    static LoryLayer exampleLayer() {
        LoryLayer layer = new LoryLayer(0, 2, 2, 2, 2, false, 0.02f, 0.02f, 0.02f, new Rng(0));
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("router.weight", Tensor.fromArray(new float[] {1, -1, 0.5f, 2}, 2, 2));
        w.put("experts.gate_proj", Tensor.fromArray(new float[] {1, 0, 0, 1, 0, 1, 1, 0}, 2, 2, 2));
        w.put("experts.up_proj", Tensor.fromArray(new float[] {1, 1, 0, 1, 2, 0, 0, -1}, 2, 2, 2));
        w.put("experts.down_proj", Tensor.fromArray(new float[] {1, 0, 0, 1, 1, -1, 1, 1}, 2, 2, 2));
        layer.loadStateDict(w, true);
        return layer;
    }

    static Tensor x() {
        return Tensor.fromRows(X).reshape(1, 6, 2);
    }

    static void assertRows(Tensor actual, double[][] expected, double tol) {
        for (int r = 0; r < expected.length; r++) {
            for (int c = 0; c < expected[r].length; c++) {
                assertThat((double) actual.reshape(expected.length, expected[r].length).get(r, c))
                        .as("[%d,%d]", r, c).isCloseTo(expected[r][c], Offset.offset(tol));
            }
        }
    }

    @Test
    void a_mergeAndSoftmaxGradients() {
        Var z = Var.param(Tensor.fromArray(new float[] {0, (float) Math.log(3)}, 2));
        Var w = z.softmax(0);
        Var experts = Var.param(Tensor.fromArray(new float[] {1, 2, 3, 4, 0, 1, -1, 0}, 2, 2, 2));
        Var merged = ExpertMerge.merge(w.reshape(1, 2), experts);
        assertRows(merged.data(), new double[][] {{0.25, 1.25}, {0, 1}}, 1e-6);
        Var trace = merged.reshape(2, 2).select(0, 0).select(0, 0).add(merged.reshape(2, 2).select(0, 1).select(0, 1));
        trace.backward();
        assertRows(experts.grad(), new double[][] {{0.25, 0, 0, 0.25}, {0.75, 0, 0, 0.75}}, 1e-6);
        assertRows(z.grad(), new double[][] {{0.9375, -0.9375}}, 1e-6);
    }

    @Test
    void b_forwardOfTheTinyLayer() {
        RoutingTrace trace = new RoutingTrace();
        LoryLayer layer = exampleLayer();
        layer.setTrace(trace);
        Tensor y = layer.forward(Var.of(x())).data();
        assertRows(y, new double[][] {{0.219848, 0.170888}, {0.171919, 0.023580}, {1.777269, 0.731059},
            {-0.916259, 0.225288}, {-0.176844, 0.548846}, {0.293339, 0.155615}}, 1e-5);
        assertThat(trace.entries()).hasSize(3);
        assertThat(trace.entries().get(0).weights()[0]).isCloseTo(0.222700f, Offset.offset(1e-5f));
        assertThat(trace.entries().get(1).weights()[0]).isCloseTo(0.222700f, Offset.offset(1e-5f));
        assertThat(trace.entries().get(2).weights()[0]).isCloseTo(0.679179f, Offset.offset(1e-5f));
    }

    @Test
    void b_perturbationTableOfSingleLayerDependencies() {
        LoryLayer layer = exampleLayer();
        float[] base = layer.forward(Var.of(x())).data().toArray();
        int[][] expected = {{0, 1, 2, 3}, {0, 1, 2, 3}, {2, 4, 5}, {3, 4, 5}, {4}, {5}};
        for (int r = 0; r < 6; r++) {
            Tensor xp = x().copy();
            xp.set(xp.get(0, r, 0) + 0.1f, 0, r, 0);
            float[] y = layer.forward(Var.of(xp)).data().toArray();
            TreeSet<Integer> changed = new TreeSet<>();
            for (int row = 0; row < 6; row++) {
                if (y[2 * row] != base[2 * row] || y[2 * row + 1] != base[2 * row + 1]) {
                    changed.add(row);
                }
            }
            assertThat(changed).as("perturbing row %d", r).containsExactly(
                    java.util.Arrays.stream(expected[r]).boxed().toArray(Integer[]::new));
        }
    }

    @Test
    void c_backwardOfTheTinyLayer() {
        LoryLayer layer = exampleLayer();
        Var xv = Var.param(x());
        Var loss = layer.forward(xv).sum();
        assertThat((double) loss.item()).isCloseTo(3.224548, Offset.offset(1e-5));
        loss.backward();
        assertRows(layer.router().weight().grad(), new double[][] {{1.712665, 0.466303}, {-1.712665, -0.466303}}, 1e-5);
        assertRows(xv.grad(), new double[][] {{1.053308, 0.083102}, {1.931859, -0.957832}, {3.162284, 1.490331},
            {0.311300, 0.147854}, {0.130688, 0.487968}, {1.235651, 0.729662}}, 1e-5);
        assertRows(layer.experts().down().grad().select(0, 0), new double[][] {{0.509008, 0.435366},
            {0.509008, 0.435366}}, 1e-5);
    }

    @Test
    void d_identicalExpertsEqualDenseAndGiveNoRouterGradient() {
        LoryLayer layer = exampleLayer();
        for (Var p : new Var[] {layer.experts().gate(), layer.experts().up(), layer.experts().down()}) {
            p.data().select(0, 1).copyFrom(p.data().select(0, 0));
        }
        Var xv = Var.param(x());
        Var y = layer.forward(xv);
        Tensor h = x().reshape(6, 2);
        Tensor g = h.matmul(layer.experts().gate().data().select(0, 0).t());
        Tensor u = h.matmul(layer.experts().up().data().select(0, 0).t());
        Tensor dense = g.silu().mul(u).matmul(layer.experts().down().data().select(0, 0).t());
        assertThat(y.data().reshape(6, 2).allClose(dense, 1e-6f, 1e-6f)).isTrue();
        y.sum().backward();
        assertThat(layer.router().weight().grad().abs().max().item()).isLessThan(1e-6f);
    }

    @Test
    void e_uniformWeightsGiveTheMean() {
        LoryLayer layer = exampleLayer();
        Var merged = ExpertMerge.merge(Var.of(Tensor.fromArray(new float[] {0.5f, 0.5f}, 1, 2)),
                layer.experts().gate());
        assertRows(merged.data(), new double[][] {{0.5, 0.5}, {0.5, 0.5}}, 1e-7);
    }

    @Test
    void f_promptOnlyRoutingUsesTheMeanOfThePrompt() {
        LoryLayer layer = exampleLayer();
        RoutingTrace trace = new RoutingTrace();
        layer.setTrace(trace);
        layer.setMode(RoutingMode.PROMPT_ONLY);
        layer.forward(Var.of(x()));
        assertThat(trace.entries()).hasSize(1);
        assertThat(trace.entries().get(0).weights()[0]).isCloseTo(0.188722f, Offset.offset(1e-5f));
        assertThat(trace.entries().get(0).weights()[1]).isCloseTo(0.811278f, Offset.offset(1e-5f));
    }
}
