package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    static final DecoderConfig CFG = new DecoderConfig(20, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.3f, false);

    @Test
    void promptOnlyCachedGenerationEqualsRecomputingWithPromptRouting() {
        MoeModel m = new MoeModel(MoeConfig.lory(CFG, 3, 4), new Rng(1));
        int[] prompt = {3, 7, 1, 9, 4, 4};
        int[] fast = new Generator(m, RoutingMode.PROMPT_ONLY).generate(prompt, 8, Generator.Sampling.greedy());
        assertThat(fast).hasSize(14).startsWith(prompt);
        // Reference without a cache: each step runs the whole sequence, routing fixed from the prompt (spec F12).
        int[] seq = prompt.clone();
        RoutingTrace trace = new RoutingTrace();
        m.setTrace(trace);
        try (NoGrad ng = NoGrad.enter()) {
            m.setRoutingMode(RoutingMode.PROMPT_ONLY);
            m.lm().forward(prompt, 1, prompt.length); // fixes the routing from the prompt
            for (int i = 0; i < 8; i++) {
                Tensor logits = m.lm().forward(seq, 1, seq.length).data();
                int next = (int) logits.select(0, 0).select(0, seq.length - 1).argmax(0, false).item();
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
            }
        }
        assertThat(fast).containsExactly(seq);
        assertThat(trace.entries()).hasSize(2); // one routing per layer, never re-routed
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(MoeKind.class)
    void capturedGenerationGivesTheEagerTokens(MoeKind kind) {
        // lory4j.capture: the prompt pass and the decode pass are traced once, then replayed with the KV caches and the
        // prompt's routing as state; three generations on one generator reuse the graphs (and a new prompt re-routes)
        MoeModel m = new MoeModel(MoeConfig.lory(CFG, 3, 4).withKind(kind), new Rng(4));
        int[][] prompts = {{3, 7, 1, 9, 4, 4}, {2, 2, 8}, {5, 1, 0, 7, 7, 3}};
        Generator.Sampling sampled = new Generator.Sampling(0.9f, 0, 1f, -1, 11);
        int[][] want = new int[prompts.length][];
        Generator eager = new Generator(m);
        for (int i = 0; i < prompts.length; i++) {
            want[i] = eager.generate(prompts[i], 7, i == 1 ? sampled : Generator.Sampling.greedy());
        }
        System.setProperty("lory4j.capture", "true");
        try {
            Generator captured = new Generator(m);
            for (int i = 0; i < prompts.length; i++) {
                assertThat(captured.generate(prompts[i], 7, i == 1 ? sampled : Generator.Sampling.greedy()))
                        .as("prompt %d", i).containsExactly(want[i]);
            }
        } finally {
            System.clearProperty("lory4j.capture");
        }
        assertThat(want[0]).isNotEqualTo(want[2]);
    }

    @Test
    void perSegmentGenerationAndSampling() {
        MoeModel m = new MoeModel(MoeConfig.lory(CFG, 3, 4), new Rng(2));
        int[] out = new Generator(m, RoutingMode.PER_SEGMENT).generate(new int[] {1, 2, 3}, 6,
                new Generator.Sampling(0.8f, 5, 0.9f, -1, 7));
        assertThat(out).hasSize(9);
        for (int t : out) {
            assertThat(t).isBetween(0, 19);
        }
        int[] again = new Generator(m, RoutingMode.PER_SEGMENT).generate(new int[] {1, 2, 3}, 6,
                new Generator.Sampling(0.8f, 5, 0.9f, -1, 7));
        assertThat(again).containsExactly(out); // same seed, same tokens
        MoeModel dense = new MoeModel(MoeConfig.dense(CFG), new Rng(3));
        assertThat(new Generator(dense, RoutingMode.PROMPT_ONLY).generate(new int[] {5}, 3,
                Generator.Sampling.greedy())).hasSize(4);
    }

    @Test
    void samplingFiltersAndErrors() {
        Tensor logits = Tensor.fromArray(new float[] {0f, 5f, 1f, 4.9f}, 4);
        Rng rng = new Rng(1);
        assertThat(Generator.sample(logits, Generator.Sampling.greedy(), rng)).isEqualTo(1);
        for (int i = 0; i < 50; i++) { // top-k 2 keeps tokens 1 and 3 only
            assertThat(Generator.sample(logits, new Generator.Sampling(1f, 2, 1f, -1, 0), rng)).isIn(1, 3);
        }
        for (int i = 0; i < 50; i++) { // top-p 0.3: token 1 alone has ~0.5 of the mass
            assertThat(Generator.sample(logits, new Generator.Sampling(1f, 0, 0.3f, -1, 0), rng)).isEqualTo(1);
        }
        MoeModel m = new MoeModel(MoeConfig.dense(CFG), new Rng(4));
        assertThatThrownBy(() -> new Generator(m, RoutingMode.PROMPT_ONLY).generate(new int[0], 2,
                Generator.Sampling.greedy())).hasMessage("generate: empty prompt");
        assertThatThrownBy(() -> new Generator.Sampling(-1f, 0, 1f, -1, 0)).hasMessageStartingWith("Sampling: temperature -1.0");
        assertThatThrownBy(() -> new Generator(m, RoutingMode.PROMPT_ONLY).generate(new int[60], 10,
                Generator.Sampling.greedy())).hasMessage("generate: prompt 60 + 10 new tokens exceed max_position_embeddings 64");
    }
}
