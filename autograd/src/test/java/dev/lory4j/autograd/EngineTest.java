package dev.lory4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class EngineTest {

    @Test
    void reusedValuesAccumulateAndLeavesKeepGrad() {
        Var x = Var.param(Tensor.fromArray(new float[] {2, -3}, 2));
        Var y = x.mul(x).add(x.mul(3f)).sum(); // d/dx (x^2 + 3x) = 2x + 3
        y.backward();
        assertThat(x.grad().toArray()).containsExactly(7, -3);
        Var z = x.mul(2f).sum();
        z.backward(); // accumulates like PyTorch
        assertThat(x.grad().toArray()).containsExactly(9, -1);
        x.zeroGrad();
        assertThat(x.grad()).isNull();
    }

    @Test
    void deepGraphsDoNotOverflowTheStack() {
        Var x = Var.param(Tensor.scalar(1f));
        Var y = x;
        for (int i = 0; i < 100_000; i++) {
            y = y.add(0f);
        }
        y.mul(3f).backward();
        assertThat(x.grad().item()).isEqualTo(3f);
    }

    @Test
    void graphIsFreedUnlessRetained() {
        Var x = Var.param(Tensor.fromArray(new float[] {1, 2}, 2));
        Var h = x.square();
        Var y = h.sum();
        y.backward(Tensor.ones(), true);
        assertThat(h.op()).isEqualTo("square");
        y.backward(Tensor.ones(), false);
        assertThat(x.grad().toArray()).containsExactly(4, 8);
        assertThat(h.op()).isNull();
    }

    @Test
    void noGradDetachAndConstants() {
        Var x = Var.param(Tensor.ones(2));
        try (NoGrad ng = NoGrad.enter()) {
            assertThat(NoGrad.isGradEnabled()).isFalse();
            assertThat(x.mul(2f).requiresGrad()).isFalse();
        }
        assertThat(NoGrad.isGradEnabled()).isTrue();
        Var y = x.detach().mul(x).sum(); // stop-gradient on the first factor
        y.backward();
        assertThat(x.grad().toArray()).containsExactly(1, 1);
        Var c = Var.of(Tensor.ones(2)).mul(2f).sum();
        assertThat(c.requiresGrad()).isFalse();
        assertThatThrownBy(c::backward).hasMessageStartingWith("backward: this value does not require a gradient");
        assertThatThrownBy(() -> x.mul(2f).backward()).hasMessage(
                "backward: output of shape [2] is not a scalar; pass a gradient of the same shape");
    }

    @Test
    void anomalyModeNamesTheFirstBadOp() {
        Var x = Var.param(Tensor.fromArray(new float[] {-1, 4}, 2));
        assertThat(x.log().data().toArray()[0]).isNaN(); // off: no complaint
        try (Anomaly a = Anomaly.enable()) {
            assertThatThrownBy(() -> x.mul(2f).log().sqrt().sum())
                    .isInstanceOf(Anomaly.AnomalyException.class)
                    .hasMessage("anomaly: op 'log' produced NaN/Inf in forward from finite inputs of shapes [2]");
            Var z = Var.param(Tensor.fromArray(new float[] {0, 4}, 2));
            Var s = z.sqrt().sum(); // forward finite, backward 0.5/sqrt(0) = inf
            assertThatThrownBy(s::backward).isInstanceOf(Anomaly.AnomalyException.class)
                    .hasMessage("anomaly: backward of op 'sqrt' produced NaN/Inf from a finite gradient; input shapes [2]");
        }
        assertThat(Anomaly.isEnabled()).isFalse();
    }

    @Test
    void gradCheckCatchesAWrongGradient() {
        // A deliberately wrong backward (factor 2 missing) must be reported.
        java.util.function.Function<Var[], Var> wrongSquare = v -> Var.result("wrongSquare", v[0].data().square(),
                new Var[] {v[0]}, (g, needs) -> new Tensor[] {g.mul(v[0].data())});
        assertThatThrownBy(() -> GradCheck.check("wrong", wrongSquare, OpsGradTest.rnd(3, 3).add(2f)))
                .isInstanceOf(AssertionError.class).hasMessageContaining("gradcheck wrong: input 0 [3,3]");
    }
}
