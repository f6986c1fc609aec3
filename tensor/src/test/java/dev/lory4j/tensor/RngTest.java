package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RngTest {

    @Test
    void sameSeedSameNumbersAndDrawsAreSplittable() {
        Tensor a = new Rng(1).normal(0, 1, 100_000);
        Tensor b = new Rng(1).normal(0, 1, 100_000);
        assertThat(a.toArray()).containsExactly(b.toArray());
        assertThat(new Rng(2).normal(0, 1, 10).toArray()).isNotEqualTo(new Rng(1).normal(0, 1, 10).toArray());
        // One draw of n + m equals a draw of n followed by a draw of m: values depend on (seed, position)
        // only, which is also why the (parallel) fill gives the same numbers on any thread count.
        Rng split = new Rng(3);
        float[] first = split.uniform(0, 1, 70_000).toArray();
        float[] second = split.uniform(0, 1, 5).toArray();
        float[] whole = new Rng(3).uniform(0, 1, 70_005).toArray();
        assertThat(java.util.Arrays.copyOf(whole, 70_000)).containsExactly(first);
        assertThat(java.util.Arrays.copyOfRange(whole, 70_000, 70_005)).containsExactly(second);
        Rng resumed = new Rng(3, split.position() - 5);
        assertThat(resumed.uniform(0, 1, 5).toArray()).containsExactly(second);
    }

    @Test
    void momentsAndBounds() {
        int n = 200_000;
        float[] z = new Rng(4).normal(2f, 3f, n).toArray();
        double mean = 0;
        double sq = 0;
        for (float v : z) {
            mean += v;
            sq += v * (double) v;
        }
        mean /= n;
        double std = Math.sqrt(sq / n - mean * mean);
        // Standard error of the mean is 3/sqrt(n) = 0.0067; 5 standard errors = 0.034.
        assertThat(mean).isBetween(2 - 0.034, 2 + 0.034);
        assertThat(std).isBetween(3 * 0.98, 3 * 1.02);
        float[] u = new Rng(5).uniform(-2f, 1f, n).toArray();
        double um = 0;
        for (float v : u) {
            assertThat(v).isGreaterThanOrEqualTo(-2f).isLessThan(1f);
            um += v;
        }
        assertThat(um / n).isBetween(-0.5 - 0.01, -0.5 + 0.01);
        float[] t = new Rng(6).truncatedNormal(0f, 1f, -0.5f, 2f, 50_000).toArray();
        float lo = Float.MAX_VALUE;
        for (float v : t) {
            assertThat(v).isBetween(-0.5f, 2f);
            lo = Math.min(lo, v);
        }
        assertThat(lo).isLessThan(-0.49f);
        Tensor k = new Rng(7).kaimingUniform(64, (float) Math.sqrt(1.0 / 3), 32, 64);
        assertThat(k.abs().max().item()).isLessThanOrEqualTo(0.125f).isGreaterThan(0.12f);
        int[] perm = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        new Rng(8).shuffle(perm);
        assertThat(perm).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9).isNotEqualTo(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        Rng ints = new Rng(9);
        int[] counts = new int[3];
        for (int i = 0; i < 30_000; i++) {
            counts[ints.nextInt(3)]++;
        }
        for (int c : counts) {
            assertThat(c).isBetween(9_500, 10_500); // 10000 +- 5 standard deviations (82)
        }
    }

    @Test
    void badArguments() {
        Rng r = new Rng(0);
        assertThatThrownBy(() -> r.normal(0, -1, 3)).hasMessage("normal: mean 0.0 and std -1.0 must be finite with std >= 0");
        assertThatThrownBy(() -> r.uniform(1, 0, 3)).hasMessage("uniform: bounds [1.0, 0.0) are not a finite interval");
        assertThatThrownBy(() -> r.nextInt(0)).hasMessage("nextInt: bound 0 must be positive");
        assertThatThrownBy(() -> r.truncatedNormal(0, 1, 10, 20, 3)).hasMessageStartingWith("truncatedNormal: mean 0.0, std 1.0, bounds [10.0, 20.0]");
        assertThatThrownBy(() -> r.kaimingNormal(0, 1, 3)).hasMessage("kaimingNormal: fan 0 must be positive");
    }
}
