package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DecoderTest {
    private static DecoderConfig small(boolean tied) {
        return new DecoderConfig(17, 16, 2, 2, 24, 1e-5f, 10000, tied, 64, 0.02f, true);
    }

    @Test
    void parameterNamesFollowHuggingFace() {
        DecoderLM lm = new DecoderLM(small(false), new Rng(1));
        ArrayList<String> names = new ArrayList<>(lm.namedParameters().keySet());
        assertThat(names).startsWith("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
                "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight",
                "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight");
        assertThat(names).endsWith("model.norm.weight", "lm_head.weight");
        assertThat(lm.namedParameters().get("model.layers.1.mlp.down_proj.weight").shape()).containsExactly(16, 24);
        assertThat(new DecoderLM(small(true), new Rng(1)).namedParameters()).doesNotContainKey("lm_head.weight");
        assertThat(lm.parameterCount()).isEqualTo(17 * 16 * 2 + 2 * (4 * 16 * 16 + 3 * 16 * 24 + 2 * 16) + 16);
    }

    @Test
    void loadStateDictValidatesEverythingBeforeChangingAnything() {
        DecoderLM a = new DecoderLM(small(false), new Rng(1));
        DecoderLM b = new DecoderLM(small(false), new Rng(2));
        b.loadStateDict(a.stateDict(), true);
        assertThat(b.stateDict().get("lm_head.weight").toArray()).containsExactly(a.stateDict().get("lm_head.weight").toArray());
        Map<String, Tensor> bad = new java.util.LinkedHashMap<>(a.stateDict());
        bad.remove("model.norm.weight");
        bad.put("extra.weight", Tensor.zeros(2));
        bad.put("lm_head.weight", Tensor.zeros(3, 3));
        float before = b.stateDict().get("model.embed_tokens.weight").get(0, 0);
        assertThatThrownBy(() -> b.loadStateDict(bad, true)).hasMessage("loadStateDict: missing [model.norm.weight]; "
                + "unexpected [extra.weight]; lm_head.weight has shape [3,3], expected [17,16]");
        assertThat(b.stateDict().get("model.embed_tokens.weight").get(0, 0)).isEqualTo(before);
    }

    @Test
    void ropeRotatesPairsAndKeepsRelativePositions() {
        RoPE rope = new RoPE(8, 32, 10000);
        Rng rng = new Rng(3);
        Tensor q = rng.normal(0, 1, 1, 8);
        Tensor k = rng.normal(0, 1, 1, 8);
        // <rope(q, m), rope(k, n)> depends on m - n only.
        float d1 = rope.apply(Var.of(q), 5).data().mul(rope.apply(Var.of(k), 2).data()).sum().item();
        float d2 = rope.apply(Var.of(q), 13).data().mul(rope.apply(Var.of(k), 10).data()).sum().item();
        assertThat(d1).isCloseTo(d2, org.assertj.core.data.Offset.offset(1e-4f));
        assertThat(rope.apply(Var.of(q), 0).data().toArray()).containsExactly(q.toArray()); // position 0: identity
        float norm0 = q.square().sum().item();
        float norm7 = rope.apply(Var.of(q), 7).data().square().sum().item();
        assertThat(norm7).isCloseTo(norm0, org.assertj.core.data.Offset.offset(1e-4f));
        GradCheck.check("rope", v -> rope.apply(v[0], 3), rng.normal(0, 1, 2, 4, 8));
    }

    @Test
    void modelIsCausalAndKvCacheMatchesFullForward() {
        DecoderLM lm = new DecoderLM(small(false), new Rng(4));
        int[] a = {1, 5, 9, 2, 7, 3};
        int[] b = a.clone();
        b[4] = 11;
        try (NoGrad ng = NoGrad.enter()) {
            Tensor la = lm.forward(a, 1, 6).data();
            Tensor lb = lm.forward(b, 1, 6).data();
            assertThat(la.slice(1, 0, 4).toArray()).containsExactly(lb.slice(1, 0, 4).toArray());
            assertThat(la.slice(1, 4, 6).toArray()).isNotEqualTo(lb.slice(1, 4, 6).toArray());
            KvCache[] caches = lm.caches(1, 16);
            Tensor first = lm.forward(new int[] {1, 5, 9, 2}, 1, 4, 0, caches).data();
            Tensor next = lm.forward(new int[] {7}, 1, 1, 4, caches).data();
            Tensor last = lm.forward(new int[] {3}, 1, 1, 5, caches).data();
            assertThat(first.allClose(la.slice(1, 0, 4), 1e-5f, 1e-6f)).isTrue();
            assertThat(next.allClose(la.slice(1, 4, 5), 1e-4f, 1e-5f)).isTrue();
            assertThat(last.allClose(la.slice(1, 5, 6), 1e-4f, 1e-5f)).isTrue();
        }
    }

    @Test
    void wholeModelGradientCheck() {
        DecoderConfig c = new DecoderConfig(11, 8, 1, 2, 12, 1e-5f, 10000, true, 16, 0.3f, false);
        DecoderLM lm = new DecoderLM(c, new Rng(5));
        int[] tokens = {1, 4, 2, 9, 3, 10, 0, 5};
        int[] targets = {4, 2, 9, 3, 10, 0, 5, 7};
        GradCheck.checkParameters("decoder", GradCheck.Options.defaults(), lm.namedParameters(),
                () -> lm.loss(tokens, targets, 2, 4, -100));
    }

    @Test
    void tinyModelLearnsARepeatingPattern() {
        DecoderConfig c = new DecoderConfig(12, 32, 2, 4, 64, 1e-5f, 10000, false, 64, 0.02f, true);
        DecoderLM lm = new DecoderLM(c, new Rng(6));
        AdamW opt = new AdamW(lm.namedParameters(), 3e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        int batch = 4;
        int len = 16;
        Rng rng = new Rng(7);
        float first = 0;
        float last = 0;
        for (int step = 0; step < 60; step++) {
            int[] tokens = new int[batch * len + 1];
            int[] targets = new int[batch * len];
            int[] x = new int[batch * len];
            for (int r = 0; r < batch; r++) {
                int startTok = rng.nextInt(12);
                for (int t = 0; t < len; t++) {
                    x[r * len + t] = (startTok + 3 * t) % 12; // each token determines the next
                    targets[r * len + t] = (startTok + 3 * (t + 1)) % 12;
                }
            }
            Var loss = lm.loss(x, targets, batch, len, -100);
            if (step == 0) {
                first = loss.item();
            }
            last = loss.item();
            opt.zeroGrad();
            loss.backward();
            opt.step();
        }
        assertThat(first).isGreaterThan(2.2f); // ~ln 12 = 2.48 at random init
        assertThat(last).isLessThan(0.5f);
    }
}
