package dev.lory4j.autograd.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class OptimTest {

    private static Map<String, Var> one(Var p) {
        Map<String, Var> m = new LinkedHashMap<>();
        m.put("w", p);
        return m;
    }

    @Test
    void adamwMatchesADoublePrecisionReference() {
        int n = 37; // not a multiple of the vector length: exercises the scalar tail too
        Rng rng = new Rng(1);
        Tensor p0 = rng.normal(0, 1, n);
        Var p = Var.param(p0.copy());
        AdamW opt = new AdamW(one(p), 0.01f, 0.9f, 0.99f, 1e-8f, 0.1f);
        double[] ref = new double[n];
        double[] m = new double[n];
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            ref[i] = p0.get(i);
        }
        for (int t = 1; t <= 5; t++) {
            Tensor g = rng.normal(0, 1, n);
            p.setGrad(g);
            opt.step();
            for (int i = 0; i < n; i++) {
                double gi = g.get(i);
                ref[i] *= 1 - 0.01 * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.99 * v[i] + 0.01 * gi * gi;
                double denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(0.99, t)) + 1e-8;
                ref[i] -= 0.01 / (1 - Math.pow(0.9, t)) * m[i] / denom;
            }
        }
        for (int i = 0; i < n; i++) {
            // Five float32 updates of size ~lr: rounding stays below 1e-6 absolute.
            assertThat((double) p.data().get(i)).isCloseTo(ref[i], Offset.offset(2e-6));
        }
        assertThat(opt.steps()).isEqualTo(5);
        assertThat(opt.stateTensors()).containsKeys("exp_avg.w", "exp_avg_sq.w");
    }

    @Test
    void sgdMomentumAndNesterovMatchReference() {
        for (boolean nesterov : new boolean[] {false, true}) {
            Var p = Var.param(Tensor.fromArray(new float[] {1, -2}, 2));
            SGD opt = new SGD(one(p), 0.1f, 0.9f, 0f, 0.01f, nesterov);
            double[] ref = {1, -2};
            double[] buf = new double[2];
            float[][] grads = {{0.5f, -1}, {0.25f, 2}, {-1, 0}};
            for (int t = 0; t < grads.length; t++) {
                p.setGrad(Tensor.fromArray(grads[t], 2));
                opt.step();
                for (int i = 0; i < 2; i++) {
                    double d = grads[t][i] + 0.01 * ref[i];
                    buf[i] = t == 0 ? d : 0.9 * buf[i] + d;
                    ref[i] -= 0.1 * (nesterov ? d + 0.9 * buf[i] : buf[i]);
                }
            }
            assertThat((double) p.data().get(0)).isCloseTo(ref[0], Offset.offset(1e-6));
            assertThat((double) p.data().get(1)).isCloseTo(ref[1], Offset.offset(1e-6));
        }
    }

    @Test
    void stateRestoresExactly() {
        Rng rng = new Rng(3);
        Var a = Var.param(rng.normal(0, 1, 10));
        Var b = Var.param(a.data().copy());
        AdamW oa = new AdamW(one(a), 0.05f, 0.9f, 0.999f, 1e-8f, 0.01f);
        AdamW ob = new AdamW(one(b), 0.05f, 0.9f, 0.999f, 1e-8f, 0.01f);
        Tensor[] gs = {rng.normal(0, 1, 10), rng.normal(0, 1, 10), rng.normal(0, 1, 10)};
        a.setGrad(gs[0]);
        oa.step();
        b.setGrad(gs[0]);
        ob.step();
        // Resume b from a's saved state into a fresh optimizer: the next steps must match bit for bit.
        AdamW oc = new AdamW(one(b), 0.05f, 0.9f, 0.999f, 1e-8f, 0.01f);
        Map<String, Tensor> saved = new LinkedHashMap<>();
        oa.stateTensors().forEach((k, t) -> saved.put(k, t.copy()));
        oc.loadState(oa.steps(), saved);
        for (int t = 1; t < 3; t++) {
            a.setGrad(gs[t]);
            oa.step();
            b.setGrad(gs[t]);
            oc.step();
        }
        assertThat(b.data().toArray()).containsExactly(a.data().toArray());
        assertThatThrownBy(() -> oc.loadState(1, Map.of())).hasMessage("loadState: optimizer state 'exp_avg.w' missing");
    }

    @Test
    void clipAndSchedule() {
        Var a = Var.param(Tensor.zeros(2));
        Var b = Var.param(Tensor.zeros(1));
        a.setGrad(Tensor.fromArray(new float[] {3, 0}, 2));
        b.setGrad(Tensor.fromArray(new float[] {4}, 1));
        double norm = GradClip.clipGradNorm(List.of(a, b), 1.0);
        assertThat(norm).isCloseTo(5.0, Offset.offset(1e-6));
        assertThat(a.grad().get(0)).isCloseTo(0.6f, Offset.offset(1e-5f));
        assertThat(b.grad().get(0)).isCloseTo(0.8f, Offset.offset(1e-5f));
        assertThat(GradClip.clipGradNorm(List.of(a, b), 10.0)).isCloseTo(1.0, Offset.offset(1e-5));
        assertThat(a.grad().get(0)).isCloseTo(0.6f, Offset.offset(1e-5f)); // below the max: unchanged

        WarmupCosine s = new WarmupCosine(1.0, 0.1, 10, 110);
        assertThat(s.lr(0)).isCloseTo(0.1, Offset.offset(1e-12));
        assertThat(s.lr(9)).isCloseTo(1.0, Offset.offset(1e-12));
        assertThat(s.lr(60)).isCloseTo(0.55, Offset.offset(1e-12));
        assertThat(s.lr(110)).isCloseTo(0.1, Offset.offset(1e-12));
        assertThat(s.lr(500)).isCloseTo(0.1, Offset.offset(1e-12));
        assertThatThrownBy(() -> new WarmupCosine(1, 2, 0, 1)).hasMessageStartingWith("WarmupCosine: need maxLr >= minLr");
        assertThatThrownBy(() -> new AdamW(one(a), -1f, 0.9f, 0.999f, 1e-8f, 0f))
                .hasMessage("AdamW: learning rate -1.0 must be finite and >= 0");
    }
}
