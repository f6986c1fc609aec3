package dev.lory4j.autograd.optim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.Linear;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A training step reaches the backend's gradient hooks (what a device backend needs to keep gradients where it
 * computed them): clipping through {@link Backend#sumOfSquares} and {@link Backend#scaled}, and zeroGrad through
 * {@link Backend#release}; the results equal the plain CPU step's.
 */
class GradientHooksTest {

    /** Records the hook calls, computing with the CPU backend. */
    private static final class Spy extends DelegatingBackend {
        final List<String> calls = new ArrayList<>();

        Spy() {
            super(new CpuBackend(), "spy");
        }

        @Override
        public double sumOfSquares(List<Tensor> ts) {
            calls.add("sumOfSquares");
            return super.sumOfSquares(ts);
        }

        @Override
        public List<Tensor> scaled(List<Tensor> ts, float s) {
            calls.add("scaled");
            return super.scaled(ts, s);
        }

        @Override
        public void release(Tensor t) {
            calls.add("release");
        }
    }

    /** Weight after two clipped AdamW steps of a linear layer on {@code backend}; the clip norms in {@code norms}. */
    private static Tensor train(Backend backend, double[] norms) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            Linear layer = new Linear(6, 4, false, 0.5f, new Rng(3));
            AdamW opt = new AdamW(layer.namedParameters(), 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f);
            Rng rng = new Rng(4);
            for (int step = 0; step < 2; step++) {
                Var x = Var.of(rng.normal(0f, 1f, 2, 5, 6));
                Var loss = layer.forward(x).square().sum();
                opt.zeroGrad();
                loss.backward();
                norms[step] = GradClip.clipGradNorm(layer.parameters(), 0.5);
                opt.step();
            }
            return layer.weight().data().copy();
        } finally {
            Backends.use(before);
        }
    }

    @Test
    void aClippedStepGoesThroughTheHooksAndMatchesTheCpu() {
        double[] cpuNorms = new double[2];
        Tensor cpu = train(new CpuBackend(), cpuNorms);
        Spy spy = new Spy();
        double[] spyNorms = new double[2];
        Tensor viaHooks = train(spy, spyNorms);
        assertThat(spy.calls).containsSubsequence("sumOfSquares", "scaled", "release", "sumOfSquares", "scaled");
        assertThat(cpuNorms[0]).isGreaterThan(0.5); // the clip did scale
        assertThat(spyNorms).containsExactly(cpuNorms, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(viaHooks.relativeErrorTo(cpu)).isLessThan(1e-6);
    }
}
