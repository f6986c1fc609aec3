package dev.lory4j.moe;

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

/** The Lory model against an independent PyTorch implementation (see src/test/resources/golden/README.md). */
class GoldenLoryCrossCheckTest {

    @ParameterizedTest
    @ValueSource(strings = {"lory-e4-t8", "lory-ragged"})
    void lossLogitsAndEveryGradientMatchPyTorch(String name) throws Exception {
        Path file = Path.of(getClass().getResource("/golden/" + name + ".golden.safetensors").toURI());
        SafetensorsFile golden = Safetensors.read(file);
        MoeConfig cfg = MoeConfig.fromMap(Json.parseObject(golden.metadata().get("config"), name));
        assertThat(cfg.kind()).isEqualTo(MoeKind.LORY);
        MoeModel model = new MoeModel(cfg, new Rng(0));
        Map<String, Tensor> params = new LinkedHashMap<>();
        model.lm().namedParameters().keySet().forEach(k -> params.put(k, golden.tensors().get(k)));
        model.lm().loadStateDict(params, true);
        Tensor tokens = golden.require("input.tokens");
        int ignore = Integer.parseInt(golden.metadata().get("ignore_index"));
        Var logits = model.lm().forward(tokens.toIntArray(), tokens.dim(0), tokens.dim(1));
        Var loss = model.loss(logits, golden.require("input.targets").toIntArray(), ignore);
        loss.backward();
        assertThat(loss.data().relativeErrorTo(golden.require("output.loss").reshape())).isLessThan(1e-4);
        assertThat(logits.data().relativeErrorTo(golden.require("output.logits"))).isLessThan(1e-4);
        int routers = 0;
        for (Map.Entry<String, Var> e : model.lm().namedParameters().entrySet()) {
            assertThat(e.getValue().grad().relativeErrorTo(golden.require("grad." + e.getKey())))
                    .as("gradient of %s", e.getKey()).isLessThan(1e-4);
            routers += e.getKey().endsWith("mlp.router.weight") ? 1 : 0;
        }
        assertThat(routers).isPositive();
    }
}
