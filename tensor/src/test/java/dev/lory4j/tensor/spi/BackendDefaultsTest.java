package dev.lory4j.tensor.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The composed defaults of the clipping and AdamW helpers of the Backend SPI, against plain references. */
class BackendDefaultsTest {
    private final Backend backend = new DelegatingBackend(new CpuBackend(), "plain");
    private final Rng rng = new Rng(11);

    @Test
    void sumOfSquaresAndScaled() {
        Tensor t = rng.normal(0f, 2f, 13, 7).transpose(0, 1); // a view: the default copies it
        double ref = 0;
        for (float f : t.toArray()) {
            ref += (double) f * f;
        }
        assertThat(backend.sumOfSquares(t)).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-6 * ref)); // float sums inside vector blocks: float rounding
        Tensor before = t.copy();
        Tensor s = backend.scaled(t, 0.25f);
        assertThat(s.relativeErrorTo(before.mul(0.25f))).isLessThan(1e-7);
        assertThat(t.relativeErrorTo(before)).isZero(); // the default does not scale in place
    }

    @Test
    void theListFormsOfClippingAndAdamWDoWhatTheOneTensorFormsDo() {
        Tensor[] ps = {rng.normal(0f, 1f, 3, 5), rng.normal(0f, 1f, 7)};
        Tensor[] gs = {rng.normal(0f, 1f, 3, 5), rng.normal(0f, 1f, 7)};
        double expected = backend.sumOfSquares(gs[0]) + backend.sumOfSquares(gs[1]);
        assertThat(backend.sumOfSquares(java.util.List.of(gs))).isEqualTo(expected);
        java.util.List<Tensor> scaled = backend.scaled(java.util.List.of(gs), 0.5f);
        assertThat(scaled.get(1).toArray()).containsExactly(gs[1].mul(0.5f).toArray());
        Tensor[] one = {ps[0].copy(), ps[1].copy()};
        Tensor[] moments = {Tensor.zeros(3, 5), Tensor.zeros(7), Tensor.zeros(3, 5), Tensor.zeros(7)};
        Tensor[] oneMoments = {Tensor.zeros(3, 5), Tensor.zeros(7), Tensor.zeros(3, 5), Tensor.zeros(7)};
        backend.adamw(java.util.List.of(ps), java.util.List.of(gs), java.util.List.of(moments[0], moments[1]),
                java.util.List.of(moments[2], moments[3]), 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f);
        for (int i = 0; i < 2; i++) {
            backend.adamw(one[i], gs[i], oneMoments[i], oneMoments[2 + i], 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f,
                    0.001f);
            assertThat(ps[i].toArray()).containsExactly(one[i].toArray());
        }
        assertThatThrownBy(() -> backend.adamw(java.util.List.of(ps), java.util.List.of(gs[0]),
                java.util.List.of(moments[0], moments[1]), java.util.List.of(moments[2], moments[3]), 0.1f, 0.9f,
                0.999f, 1e-8f, 0.01f, 0.1f, 0.001f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adamw: 2 parameters, 1 gradients");
    }
}
