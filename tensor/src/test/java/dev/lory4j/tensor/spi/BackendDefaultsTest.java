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
        Tensor u = rng.normal(0f, 1f, 5);
        double ref = 0;
        for (Tensor x : new Tensor[] {t, u}) {
            for (float f : x.toArray()) {
                ref += (double) f * f;
            }
        }
        // float sums inside vector blocks: float rounding
        assertThat(backend.sumOfSquares(java.util.List.of(t, u))).isCloseTo(ref,
                org.assertj.core.data.Offset.offset(1e-6 * ref));
        Tensor before = t.copy();
        Tensor s = backend.scaled(java.util.List.of(t, u), 0.25f).get(0);
        assertThat(s.relativeErrorTo(before.mul(0.25f))).isLessThan(1e-7);
        assertThat(t.relativeErrorTo(before)).isZero(); // the default does not scale in place
    }

    @Test
    void adamwIsPyTorchsUpdateForEachTensor() {
        Tensor[] ps = {rng.normal(0f, 1f, 3, 5), rng.normal(0f, 1f, 17)}; // 17: a vector tail
        Tensor[] gs = {rng.normal(0f, 1f, 3, 5), rng.normal(0f, 1f, 17)};
        Tensor[] ms = {rng.normal(0f, 0.1f, 3, 5), rng.normal(0f, 0.1f, 17)};
        Tensor[] vs = {rng.uniform(0f, 0.1f, 3, 5), rng.uniform(0f, 0.1f, 17)};
        float lr = 0.1f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f, bc1 = 0.1f, bc2 = 0.001f;
        double[][] want = new double[2][];
        for (int i = 0; i < 2; i++) {
            float[] p = ps[i].toArray();
            float[] g = gs[i].toArray();
            float[] m = ms[i].toArray();
            float[] v = vs[i].toArray();
            want[i] = new double[p.length];
            for (int j = 0; j < p.length; j++) {
                double mj = b1 * m[j] + (1 - b1) * g[j];
                double vj = b2 * v[j] + (1 - b2) * (double) g[j] * g[j];
                want[i][j] = p[j] * (1 - lr * wd) - lr * (mj / bc1) / (Math.sqrt(vj / bc2) + eps);
            }
        }
        backend.adamw(java.util.List.of(ps), java.util.List.of(gs), java.util.List.of(ms), java.util.List.of(vs), lr,
                b1, b2, eps, wd, bc1, bc2);
        for (int i = 0; i < 2; i++) {
            float[] got = ps[i].toArray();
            for (int j = 0; j < got.length; j++) {
                assertThat((double) got[j]).as("tensor %d element %d", i, j).isCloseTo(want[i][j],
                        org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(want[i][j]))));
            }
        }
        assertThatThrownBy(() -> backend.adamw(java.util.List.of(ps), java.util.List.of(gs[0]), java.util.List.of(ms),
                java.util.List.of(vs), lr, b1, b2, eps, wd, bc1, bc2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adamw: 2 parameters, 1 gradients");
    }
}
