package dev.lory4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * On a backend without an attention kernel, attention runs its reference decomposition: the same values and
 * gradients as the CPU's kernel, and finite differences.
 */
class AttentionOnOtherBackendTest {

    /** Computes with the CPU backend but registers no kernels, so composite ops take their reference. */
    private static Backend other() {
        return new DelegatingBackend(new CpuBackend(), "other");
    }

    /** Output, dq, dk, dv of one pass on {@code backend}. */
    private static Tensor[] pass(Backend backend, Tensor q, Tensor k, Tensor v, Tensor g, boolean causal) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            Var[] in = {Var.param(q), Var.param(k), Var.param(v)};
            Var out = Var.attention(in[0], in[1], in[2], causal, 0.37f);
            out.backward(g, false);
            return new Tensor[] {out.data(), in[0].grad(), in[1].grad(), in[2].grad()};
        } finally {
            Backends.use(before);
        }
    }

    @ParameterizedTest(name = "causal={0}")
    @ValueSource(booleans = {true, false})
    void sameValuesAndGradientsAsTheCpuPathAndFiniteDifferences(boolean causal) {
        Rng rng = new Rng(43);
        Tensor q = rng.normal(0f, 1f, 2, 3, 5, 4); // Lq = 5 <= Lk = 7, odd sizes
        Tensor k = rng.normal(0f, 1f, 2, 3, 7, 4);
        Tensor v = rng.normal(0f, 1f, 2, 3, 7, 6);
        Tensor g = rng.normal(0f, 1f, 2, 3, 5, 6);
        Tensor[] want = pass(new CpuBackend(), q, k, v, g, causal);
        Tensor[] got = pass(other(), q, k, v, g, causal);
        for (int i = 0; i < want.length; i++) {
            assertThat(got[i].relativeErrorTo(want[i])).as("tensor %d", i).isLessThan(1e-5);
        }
        Backend before = Backends.current();
        Backends.use(other());
        try {
            GradCheck.check("attention on another backend", in -> Var.attention(in[0], in[1], in[2], causal, 0.37f),
                    rng.normal(0f, 1f, 2, 3, 4), rng.normal(0f, 1f, 2, 5, 4), rng.normal(0f, 1f, 2, 5, 3));
        } finally {
            Backends.use(before);
        }
    }

}
