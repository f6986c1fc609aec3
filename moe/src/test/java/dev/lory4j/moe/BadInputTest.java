package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.KvCache;
import dev.lory4j.tensor.Rng;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Empty inputs, all-ignored targets, generation's arguments and a reused KV cache are clear errors. */
class BadInputTest {
    private static MoeModel lory() {
        DecoderConfig d = DecoderConfig.builder().vocabSize(20).hiddenSize(16).numLayers(2).numHeads(2)
                .intermediateSize(24).maxPositions(32).build();
        return new MoeModel(MoeConfig.lory(d, 3, 4), new Rng(2));
    }

    @Test
    void emptyInputsAndAllIgnoredTargets() {
        MoeModel m = lory();
        assertThatThrownBy(() -> m.loss(new int[0], new int[0], 1, 0, -100))
                .hasMessageContaining("batch 1 x length 0: both must be positive");
        int[] tokens = {1, 2, 3, 4};
        assertThatThrownBy(() -> m.loss(tokens, new int[] {-100, -100, -100, -100}, 1, 4, -100))
                .hasMessageContaining("all 4 targets are the ignore index -100");
        assertThatThrownBy(() -> m.lm().forward(new int[40], 1, 40))
                .hasMessageContaining("positions 0..39 outside the model's 32 (max_position_embeddings)");
    }

    @Test
    void generationAndTheCacheCheckTheirArguments() {
        MoeModel m = lory();
        Generator g = new Generator(m);
        Generator.Sampling s = new Generator.Sampling(0f, 0, 1f, -1, 1);
        assertThatThrownBy(() -> g.generate(new int[] {1}, -1, s)).hasMessageContaining("maxNew -1 must be >= 0");
        assertThatThrownBy(() -> g.generate(new int[] {1}, Integer.MAX_VALUE, s))
                .hasMessageContaining("exceed max_position_embeddings 32");
        assertThatThrownBy(() -> g.generate(new int[0], 3, s)).hasMessageContaining("empty prompt");
        KvCache[] caches = m.lm().caches(1, 8);
        m.lm().eval();
        m.lm().forward(new int[] {1, 2, 3}, 1, 3, 0, caches); // fills the caches with positions 0..2
        assertThatThrownBy(() -> m.lm().forward(new int[] {4}, 1, 1, 0, caches))
                .hasMessageContaining("tokens at position 0 do not follow the cache's 3 positions");
        List.of(caches).forEach(KvCache::clear);
        m.lm().forward(new int[] {4}, 1, 1, 0, caches); // a cleared cache starts again
    }
}
