package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.io.Safetensors;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j export}: a model directory in Hugging Face's layout. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a model directory as Hugging Face lays it out: config.json, model.safetensors (weights "
                + "only, LLaMA names) and tokenizer.json. A dense model loads as LlamaForCausalLM.")
final class ExportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Mixin
    RunArgs runArgs;

    @Option(names = "--out", required = true, description = "The directory to write (created; must not hold a "
            + "model.safetensors unless --force).")
    Path out;

    @Option(names = "--force", description = "Overwrite an existing export.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        RunDir run = runArgs.dir();
        MoeModel model = run.model();
        if (Files.exists(out.resolve("model.safetensors")) && !force) {
            throw new IllegalArgumentException(out + " already holds a model.safetensors; --force overwrites it");
        }
        Files.createDirectories(out);
        RunDir.checkWritable(out);
        Map<String, Object> config = new LinkedHashMap<>();
        boolean dense = model.config().kind() == MoeKind.DENSE;
        config.put("architectures", List.of(dense ? "LlamaForCausalLM" : "LoryForCausalLM"));
        config.put("model_type", dense ? "llama" : "lory");
        config.put("hidden_act", "silu");
        config.put("torch_dtype", "float32");
        config.put("attention_bias", false);
        config.put("mlp_bias", false);
        config.putAll(model.config().toMap());
        config.put("num_key_value_heads", model.config().decoder().numHeads());
        var tok = run.tokenizer(runArgs.tokenizer);
        config.put("bos_token_id", tok.documentBoundaryId());
        config.put("eos_token_id", tok.documentBoundaryId());
        config.put("pad_token_id", tok.padId());
        Files.writeString(out.resolve("config.json"), Json.write(config));
        Safetensors.write(out.resolve("model.safetensors"), model.lm().stateDict(), Map.of("format", "pt"));
        tok.save(out.resolve("tokenizer.json"));
        main.out.println("wrote " + out.resolve("config.json") + ", model.safetensors ("
                + String.format(java.util.Locale.ROOT, "%,d", model.lm().parameterCount())
                + " parameters) and tokenizer.json");
        return 0;
    }
}
