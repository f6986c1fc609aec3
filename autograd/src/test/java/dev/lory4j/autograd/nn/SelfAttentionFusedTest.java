package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import org.junit.jupiter.api.Test;

/**
 * A pass of {@link CausalSelfAttention} without a cache is the composite op {@link Composites#SELF_ATTENTION}: the
 * same output and gradients on the CPU (its attention kernel) and on a backend without kernels (the pure
 * reference), and finite differences of the composite.
 */
class SelfAttentionFusedTest {

    /** Computes with the CPU backend but registers no kernels, so composite ops take their reference. */
    private static Backend other() {
        return new DelegatingBackend(new CpuBackend(), "other");
    }

    /** Output, dx and the four weight gradients of one pass of a layer at positions 3.. on {@code backend}. */
    private static Tensor[] pass(Backend backend, Tensor x, Tensor g) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            CausalSelfAttention layer = new CausalSelfAttention(12, 3, new RoPE(4, 32, 10000), 0.3f, 0.2f,
                    new Rng(41));
            Var in = Var.param(x);
            Var out = layer.forward(in, 3, null);
            out.backward(g, false);
            Tensor[] r = new Tensor[6];
            r[0] = out.data();
            r[1] = in.grad();
            int i = 2;
            for (Var p : layer.parameters()) {
                r[i++] = p.grad();
            }
            return r;
        } finally {
            Backends.use(before);
        }
    }

    @Test
    void sameValuesAndGradientsAsTheAutogradPath() {
        Rng rng = new Rng(42);
        Tensor x = rng.normal(0f, 1f, 2, 7, 12); // 3 heads of 4, 7 tokens (odd)
        Tensor g = rng.normal(0f, 1f, 2, 7, 12);
        Tensor[] want = pass(new CpuBackend(), x, g);
        Tensor[] got = pass(other(), x, g);
        for (int i = 0; i < want.length; i++) {
            assertThat(got[i].relativeErrorTo(want[i])).as("tensor %d", i).isLessThan(1e-5);
        }
    }

    @Test
    void finiteDifferences() {
        Rng rng = new Rng(44);
        RoPE rope = new RoPE(4, 16, 10000);
        Tensor[] tables = rope.tables(2, 5);
        Backend before = Backends.current();
        Backends.use(other());
        try {
            // float32 central differences with h = 1e-2 on O(1) values: GradCheck's default tolerances
            GradCheck.check("selfAttention", v -> Composites.SELF_ATTENTION.apply(
                    new Composites.SelfAttention(tables[0], tables[1], 2), v), rng.normal(0f, 1f, 2, 5, 6), rng.normal(0f, 0.4f, 8, 6), rng.normal(0f, 0.4f, 8, 6),
                    rng.normal(0f, 0.4f, 8, 6), rng.normal(0f, 0.4f, 6, 8));
        } finally {
            Backends.use(before);
        }
    }

}
