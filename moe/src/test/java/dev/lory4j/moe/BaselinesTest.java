package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BaselinesTest {

    @Test
    void topKMatchesAPerTokenReference() {
        TopKMoeLayer l = new TopKMoeLayer(0, 4, 6, 4, 2, false, 0.5f, 0.5f, 1f, new Rng(1));
        Tensor x = new Rng(2).normal(0, 1, 2, 3, 4);
        Tensor y = l.forward(Var.of(x)).data().reshape(6, 4);
        Tensor xf = x.reshape(6, 4);
        Tensor logits = xf.matmul(l.router().weight().data().t());
        for (int t = 0; t < 6; t++) {
            // Reference: the two largest logits of token t, softmax over them, weighted sum of two experts.
            float[] z = logits.select(0, t).toArray();
            int a = 0;
            for (int i = 1; i < 4; i++) {
                a = z[i] > z[a] ? i : a;
            }
            int b = a == 0 ? 1 : 0;
            for (int i = 0; i < 4; i++) {
                b = i != a && z[i] > z[b] ? i : b;
            }
            double wa = 1 / (1 + Math.exp(z[b] - z[a]));
            Tensor row = xf.slice(0, t, t + 1);
            Tensor expect = l.experts().apply(a, Var.of(row)).data().mul((float) wa)
                    .add(l.experts().apply(b, Var.of(row)).data().mul((float) (1 - wa)));
            assertThat(y.slice(0, t, t + 1).allClose(expect, 1e-5f, 1e-6f)).as("token %d", t).isTrue();
        }
        assertThat(l.auxLoss().item()).isGreaterThan(0f);
    }

    @Test
    void gradientChecksOfTheBaselines() {
        TopKMoeLayer topk = new TopKMoeLayer(0, 4, 5, 3, 2, true, 0.5f, 0.5f, 1f, new Rng(3));
        Var x = Var.param(new Rng(4).normal(0, 1, 2, 3, 4));
        Map<String, Var> p = new LinkedHashMap<>(topk.namedParameters());
        p.put("x", x);
        // Small perturbations do not change which experts are chosen (the choice is piecewise constant).
        GradCheck.checkParameters("topk", GradCheck.Options.defaults().withStep(1e-3).withTolerance(2e-3, 2e-2), p,
                () -> topk.forward(x).add(topk.auxLoss()));
        ExpertChoiceLayer ec = new ExpertChoiceLayer(4, 5, 3, 1f, 1, false, 0.5f, 0.5f, 1f, new Rng(5));
        Var x2 = Var.param(new Rng(6).normal(0, 1, 2, 3, 4));
        Map<String, Var> p2 = new LinkedHashMap<>(ec.namedParameters());
        p2.put("x", x2);
        GradCheck.checkParameters("expert choice", GradCheck.Options.defaults().withStep(1e-3).withTolerance(2e-3, 2e-2),
                p2, () -> ec.forward(x2));
        ec.eval();
        GradCheck.checkParameters("expert choice eval", GradCheck.Options.defaults().withStep(1e-3)
                .withTolerance(2e-3, 2e-2), p2, () -> ec.forward(x2));
    }

    @Test
    void expertChoiceGivesEachExpertItsCapacity() {
        ExpertChoiceLayer ec = new ExpertChoiceLayer(4, 5, 4, 1f, 1, false, 0.5f, 0.5f, 1f, new Rng(7));
        Var x = Var.param(new Rng(8).normal(0, 1, 2, 4, 4)); // 8 tokens, 4 experts: capacity 2 each
        ec.forward(x).sum().backward();
        // Every expert processed exactly 2 tokens: its gate gradient is non-zero.
        for (int i = 0; i < 4; i++) {
            assertThat(ec.experts().gate().grad().select(0, i).abs().sum().item()).isPositive();
        }
        assertThatThrownBy(() -> new TopKMoeLayer(0, 4, 5, 3, 4, false, 0.5f, 0.5f, 1f, new Rng(1)))
                .hasMessage("TopKMoeLayer: top_k 4 must be in [1, 3]");
    }
}
