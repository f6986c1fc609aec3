package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The merged product x_s · (Σ_e w[s,e] E_e)ᵀ and the merged SwiGLU block (composite ops a device runs for a Lory
 * layer): values and gradients against the composition written out and finite differences.
 */
class MergedProductTest {

    @Test
    void valuesAndGradientsEqualTheComposition() {
        Rng rng = new Rng(31);
        int s = 3, t = 5, e = 4, a = 7, b = 6; // odd sizes
        Tensor x = rng.normal(0f, 1f, s, t, b);
        Tensor w = rng.uniform(0f, 1f, s, e);
        Tensor experts = rng.normal(0f, 1f, e, a, b);
        Tensor g = rng.normal(0f, 1f, s, t, a);
        Var[] fused = {Var.param(x), Var.param(w), Var.param(experts)};
        Var y = ExpertMerge.mergedProduct(fused[0], fused[1], fused[2]);
        y.backward(g, false);
        Var[] comp = {Var.param(x), Var.param(w), Var.param(experts)};
        Var want = comp[0].matmul(ExpertMerge.merge(comp[1], comp[2]).transpose(-1, -2));
        want.backward(g, false);
        assertThat(y.shape()).containsExactly(s, t, a);
        assertThat(y.data().relativeErrorTo(want.data())).isLessThan(1e-6);
        for (int i = 0; i < 3; i++) {
            assertThat(fused[i].grad().relativeErrorTo(comp[i].grad())).as("input %d", i).isLessThan(1e-5);
        }
    }

    @Test
    void finiteDifferences() {
        Rng rng = new Rng(32);
        // float32 central differences with h = 1e-2 on O(1) values: GradCheck's default tolerances
        GradCheck.check("mergedProduct", v -> ExpertMerge.mergedProduct(v[0], v[1], v[2]),
                rng.normal(0f, 1f, 2, 3, 5), rng.uniform(0f, 1f, 2, 3), rng.normal(0f, 1f, 3, 4, 5));
    }

    @Test
    void mismatchedShapesNameTheOpAndTheShapes() {
        Var x = Var.of(Tensor.zeros(2, 3, 5));
        Var w = Var.of(Tensor.zeros(2, 3));
        assertThatThrownBy(() -> ExpertMerge.mergedProduct(x, w, Var.of(Tensor.zeros(3, 4, 6))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("mergedProduct").hasMessageContaining("[2,3,5]").hasMessageContaining("[3,4,6]");
        assertThatThrownBy(() -> ExpertMerge.mergedProduct(x, Var.of(Tensor.zeros(2, 2)), Var.of(Tensor.zeros(3, 4, 5))))
                .hasMessageContaining("mergedProduct");
    }

    @Test
    void mergedSwiGluEqualsTheCompositionInValuesAndGradients() {
        Rng rng = new Rng(33);
        int s = 3, t = 5, e = 4, d = 6, f = 7, dOut = 5; // odd sizes
        Tensor[] in = {rng.normal(0f, 1f, s, t, d), rng.uniform(0f, 1f, s, e), rng.normal(0f, 0.5f, e, f, d),
            rng.normal(0f, 0.5f, e, f, d), rng.normal(0f, 0.5f, e, dOut, f)};
        Tensor g = rng.normal(0f, 1f, s, t, dOut);
        Var[] fused = new Var[5];
        Var[] comp = new Var[5];
        for (int i = 0; i < 5; i++) {
            fused[i] = Var.param(in[i]);
            comp[i] = Var.param(in[i]);
        }
        Var y = ExpertMerge.mergedSwiGlu(fused[0], fused[1], fused[2], fused[3], fused[4]);
        y.backward(g, false);
        Var gate = ExpertMerge.merge(comp[1], comp[2]).transpose(-1, -2);
        Var up = ExpertMerge.merge(comp[1], comp[3]).transpose(-1, -2);
        Var down = ExpertMerge.merge(comp[1], comp[4]).transpose(-1, -2);
        Var want = comp[0].matmul(gate).silu().mul(comp[0].matmul(up)).matmul(down);
        want.backward(g, false);
        assertThat(y.shape()).containsExactly(s, t, dOut);
        assertThat(y.data().relativeErrorTo(want.data())).isLessThan(1e-6);
        for (int i = 0; i < 5; i++) {
            assertThat(fused[i].grad().relativeErrorTo(comp[i].grad())).as("input %d", i).isLessThan(1e-5);
        }
    }

    @Test
    void mergedSwiGluFiniteDifferences() {
        Rng rng = new Rng(34);
        // float32 central differences with h = 1e-2 on O(1) values: GradCheck's default tolerances
        GradCheck.check("mergedSwiGlu", v -> ExpertMerge.mergedSwiGlu(v[0], v[1], v[2], v[3], v[4]),
                rng.normal(0f, 1f, 2, 3, 4), rng.uniform(0f, 1f, 2, 3), rng.normal(0f, 0.5f, 3, 5, 4),
                rng.normal(0f, 0.5f, 3, 5, 4), rng.normal(0f, 0.5f, 3, 4, 5));
    }

    @Test
    void mergedSwiGluShapeErrorsNameTheOpAndTheShapes() {
        Var h = Var.of(Tensor.zeros(2, 3, 4));
        Var w = Var.of(Tensor.zeros(2, 3));
        Var gate = Var.of(Tensor.zeros(3, 5, 4));
        assertThatThrownBy(() -> ExpertMerge.mergedSwiGlu(h, w, gate, gate, Var.of(Tensor.zeros(3, 4, 6))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mergedSwiGlu")
                .hasMessageContaining("[3,4,6]").hasMessageContaining("[2,3,4]");
    }
}
