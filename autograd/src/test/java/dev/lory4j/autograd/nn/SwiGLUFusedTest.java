package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The SwiGLU block (the composite op {@link Composites#SWIGLU}) against its three linear layers written out. */
class SwiGLUFusedTest {

    @Test
    void valuesAndGradientsEqualTheLayersWrittenOut() {
        Rng rng = new Rng(41);
        SwiGLU block = new SwiGLU(7, 11, 0.5f, 0.5f, rng); // odd sizes
        Tensor x = rng.normal(0f, 1f, 2, 5, 7);
        Tensor g = rng.normal(0f, 1f, 2, 5, 7);
        Var xa = Var.param(x);
        Var composed = block.down().forward(block.gate().forward(xa).silu().mul(block.up().forward(xa)));
        composed.backward(g, false);
        Tensor[] want = {xa.grad(), block.gate().weight().grad(), block.up().weight().grad(),
            block.down().weight().grad()};
        block.zeroGrad();
        Var xb = Var.param(x);
        Var fused = block.forward(xb);
        fused.backward(g, false);
        Tensor[] got = {xb.grad(), block.gate().weight().grad(), block.up().weight().grad(),
            block.down().weight().grad()};
        assertThat(fused.data().relativeErrorTo(composed.data())).isLessThan(1e-6);
        for (int i = 0; i < got.length; i++) {
            assertThat(got[i].relativeErrorTo(want[i])).as("gradient %d", i).isLessThan(1e-5);
        }
    }

    @Test
    void finiteDifferences() {
        Rng rng = new Rng(42);
        // float32 central differences on O(1) values: GradCheck's default tolerances
        GradCheck.check("swiGlu", v -> Composites.SWIGLU.apply(null, v), rng.normal(0f, 1f, 3, 4),
                rng.normal(0f, 0.5f, 5, 4), rng.normal(0f, 0.5f, 5, 4), rng.normal(0f, 0.5f, 3, 5));
    }
}
