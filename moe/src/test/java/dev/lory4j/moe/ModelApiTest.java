package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.tensor.Rng;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The library's entry points: builders, save and load with the config, train/eval modes, generation's restore. */
class ModelApiTest {
    @TempDir
    Path dir;

    private static MoeConfig lory(RoutingMode mode) {
        DecoderConfig d = DecoderConfig.builder().vocabSize(41).hiddenSize(16).numLayers(2).numHeads(2)
                .intermediateSize(24).maxPositions(64).build();
        MoeConfig c = MoeConfig.lory(d, 4, 4);
        return new MoeConfig(d, c.kind(), c.numExperts(), c.segmentLength(), List.of(), c.routerBias(), c.topK(), mode,
                c.routerInitStd(), c.auxLossCoef(), c.capacityFactor());
    }

    @Test
    void buildersGiveThePositionalRecordsAndCheckTheirValues() {
        DecoderConfig d = DecoderConfig.builder().vocabSize(300).hiddenSize(64).numLayers(3).numHeads(4)
                .intermediateSize(96).rmsNormEps(1e-6f).ropeTheta(500000).tieWordEmbeddings(true).maxPositions(128)
                .initStd(0.01f).scaledInit(true).build();
        assertThat(d).isEqualTo(new DecoderConfig(300, 64, 3, 4, 96, 1e-6f, 500000, true, 128, 0.01f, true));
        assertThat(d.toBuilder().numLayers(5).build().numLayers()).isEqualTo(5);
        assertThat(DecoderConfig.builder().build()).isEqualTo(DecoderConfig.tiny());
        assertThatThrownBy(() -> DecoderConfig.builder().hiddenSize(30).numHeads(4).build())
                .hasMessageContaining("hidden_size 30");

        TrainConfig t = TrainConfig.builder().steps(50).lr(2e-3f).seed(7).checkpoints(dir, 10).build();
        assertThat(t.minLr()).isEqualTo(2e-3f / 10); // a tenth of the peak unless set
        assertThat(t.checkpointDir()).isEqualTo(dir);
        assertThat(t.toBuilder().minLr(0).build().minLr()).isZero();
        assertThat(t.toBuilder().lr(1f).build().minLr()).isEqualTo(t.minLr()); // set values stay as they were
        assertThatThrownBy(() -> TrainConfig.builder().steps(0).build()).hasMessageContaining("steps > 0");
    }

    @Test
    void aSavedModelLoadsWithItsConfigAndWeights() throws Exception {
        MoeModel model = new MoeModel(lory(RoutingMode.PREFIX), new Rng(3));
        Path file = dir.resolve("m.safetensors");
        model.save(file);
        MoeModel back = MoeModel.load(file);
        assertThat(back.config()).isEqualTo(model.config());
        model.lm().stateDict().forEach((name, t) -> assertThat(back.lm().stateDict().get(name).toArray()).as(name)
                .containsExactly(t.toArray()));
        assertThatThrownBy(() -> MoeModel.load(dir.resolve("missing.safetensors")))
                .hasMessageContaining("missing.safetensors");
        Files.writeString(dir.resolve("bad.safetensors"), "not a safetensors file");
        assertThatThrownBy(() -> MoeModel.load(dir.resolve("bad.safetensors")))
                .hasMessageContaining("bad.safetensors");
    }

    @Test
    void trainAndEvalSetTheLoryRoutingTheConfigNames() {
        MoeModel model = new MoeModel(lory(RoutingMode.PREFIX), new Rng(3));
        assertThat(model.routingMode()).isEqualTo(RoutingMode.CAUSAL_SEGMENT);
        model.eval();
        assertThat(model.isTraining()).isFalse();
        assertThat(model.routingMode()).isEqualTo(RoutingMode.PREFIX);
        model.loryLayers().forEach(l -> assertThat(l.mode()).isEqualTo(RoutingMode.PREFIX));
        model.train();
        assertThat(model.isTraining()).isTrue();
        model.loryLayers().forEach(l -> assertThat(l.mode()).isEqualTo(RoutingMode.CAUSAL_SEGMENT));
    }

    @Test
    void generationRestoresTheModesItFound() {
        MoeModel model = new MoeModel(lory(RoutingMode.PROMPT_ONLY), new Rng(3)).eval();
        model.setRoutingMode(RoutingMode.PER_SEGMENT);
        int[] out = new Generator(model).generate(new int[] {1, 2, 3}, 5, new Generator.Sampling(0.8f, 0, 1f, -1, 9));
        assertThat(out).hasSize(8).startsWith(1, 2, 3);
        assertThat(model.isTraining()).isFalse();
        assertThat(model.routingMode()).isEqualTo(RoutingMode.PER_SEGMENT);
        model.train();
        new Generator(model).generate(new int[] {4}, 2, new Generator.Sampling(0f, 0, 1f, -1, 1));
        assertThat(model.isTraining()).isTrue();
        assertThat(model.routingMode()).isEqualTo(RoutingMode.CAUSAL_SEGMENT);
    }
}
