package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import org.junit.jupiter.api.Test;

/**
 * On a backend other than the CPU backend, a pass of {@link CausalSelfAttention} without a cache is one op
 * ({@link Backend#selfAttention}, the default composed implementation here): the same output and gradients as the
 * autograd path the CPU takes, finite differences, and shape errors that name the op.
 */
class SelfAttentionFusedTest {

    /** Computes with the CPU backend but is not it, so ops take their non-CPU path. */
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
            GradCheck.check("selfAttention", v -> CausalSelfAttention.fused(v[0], v[1], v[2], v[3], v[4], tables[0],
                    tables[1], 2), rng.normal(0f, 1f, 2, 5, 6), rng.normal(0f, 0.4f, 8, 6), rng.normal(0f, 0.4f, 8, 6),
                    rng.normal(0f, 0.4f, 8, 6), rng.normal(0f, 0.4f, 6, 8));
        } finally {
            Backends.use(before);
        }
    }

    @Test
    void mismatchedShapesNameTheOpAndTheShapes() {
        Backend cpu = new CpuBackend();
        Tensor x = Tensor.zeros(2, 5, 6);
        Tensor w = Tensor.zeros(8, 6);
        Tensor table = Tensor.zeros(5, 4);
        assertThatThrownBy(() -> cpu.selfAttention(x, w, w, Tensor.zeros(8, 7), Tensor.zeros(6, 8), table, table, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("selfAttention: x [2,5,6]")
                .hasMessageContaining("Wv [8,7]");
        assertThatThrownBy(() -> cpu.selfAttention(x, w, w, w, Tensor.zeros(6, 8), table, table, 4))
                .hasMessageContaining("4 heads"); // head size 2 needs tables [5, 2]
        assertThatThrownBy(() -> cpu.selfAttentionGrads(x, Tensor.zeros(2, 5, 5), w, w, w, Tensor.zeros(6, 8), table,
                table, 2)).hasMessageContaining("selfAttentionGrads: dy [2,5,5]");
    }
}
