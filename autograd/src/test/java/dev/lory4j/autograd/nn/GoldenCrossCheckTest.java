package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.io.Safetensors;
import dev.lory4j.autograd.io.SafetensorsFile;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** lory4j against PyTorch on committed golden files (see src/test/resources/golden/README.md). */
class GoldenCrossCheckTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-a", "tiny-b"})
    void lossLogitsAndEveryGradientMatchPyTorch(String name) throws Exception {
        Path file = Path.of(getClass().getResource("/golden/" + name + ".golden.safetensors").toURI());
        SafetensorsFile golden = Safetensors.read(file);
        DecoderConfig cfg = DecoderConfig.fromMap(Json.parseObject(golden.metadata().get("config"), name));
        DecoderLM model = new DecoderLM(cfg, new Rng(0));
        Map<String, Tensor> params = new LinkedHashMap<>();
        model.namedParameters().keySet().forEach(k -> params.put(k, golden.tensors().get(k)));
        model.loadStateDict(params, true);
        Tensor tokens = golden.require("input.tokens");
        int batch = tokens.dim(0);
        int seq = tokens.dim(1);
        int ignore = Integer.parseInt(golden.metadata().get("ignore_index"));
        Var logits = model.forward(tokens.toIntArray(), batch, seq);
        Var loss = logits.crossEntropy(golden.require("input.targets").toIntArray(), ignore);
        loss.backward();
        // 1e-4 is the bar; both sides compute in float32, so agreement is ~1e-6 in practice.
        assertThat(loss.data().relativeErrorTo(golden.require("output.loss").reshape())).isLessThan(1e-4);
        assertThat(logits.data().relativeErrorTo(golden.require("output.logits"))).isLessThan(1e-4);
        int checked = 0;
        for (Map.Entry<String, Var> e : model.namedParameters().entrySet()) {
            double err = e.getValue().grad().relativeErrorTo(golden.require("grad." + e.getKey()));
            assertThat(err).as("gradient of %s", e.getKey()).isLessThan(1e-4);
            checked++;
        }
        assertThat(checked).isEqualTo(model.namedParameters().size()).isGreaterThan(8);
    }
}
