package dev.lory4j.cli;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.io.Safetensors;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One forward and backward pass (training mode: causal segment routing for Lory) of a dense or MoE model,
 * written to a safetensors file for cross-checking against PyTorch
 * ({@code tools/torch/crosscheck.py}): every parameter under its Hugging Face name, {@code input.tokens},
 * {@code input.targets} (I64; position 0 of each row is set to the ignore index to exercise it),
 * {@code output.logits}, {@code output.loss}, and {@code grad.<name>} for every parameter.
 */
public final class Dump {
    private Dump() {}

    private static final int IGNORE_INDEX = DecoderLM.IGNORE_INDEX;

    /** Builds the model of {@code configJson}, runs it once on random tokens and writes the dump to {@code out}. */
    public static float write(Path configJson, long seed, int batch, int seqLen, Path out) throws IOException {
        if (batch <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("dump: batch " + batch + " and sequence length " + seqLen
                    + " must be positive");
        }
        Map<String, Object> cfgMap = Json.parseObject(Files.readString(configJson), configJson.toString());
        MoeConfig moe = MoeConfig.fromMap(cfgMap);
        DecoderConfig cfg = moe.decoder();
        if (seqLen > cfg.maxPositions()) {
            throw new IllegalArgumentException("dump: sequence length " + seqLen + " exceeds max_position_embeddings "
                    + cfg.maxPositions());
        }
        Rng rng = new Rng(seed);
        MoeModel moeModel = new MoeModel(moe, rng);
        DecoderLM model = moeModel.lm();
        int n = batch * seqLen;
        int[] tokens = new int[n];
        int[] targets = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = rng.nextInt(cfg.vocabSize());
            targets[i] = i % seqLen == 0 ? IGNORE_INDEX : rng.nextInt(cfg.vocabSize());
        }
        Var logits = model.forward(tokens, batch, seqLen);
        Var loss = moeModel.loss(logits, targets, IGNORE_INDEX);
        loss.backward();
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateDict());
        tensors.put("input.tokens", asTensor(tokens, batch, seqLen));
        tensors.put("input.targets", asTensor(targets, batch, seqLen));
        tensors.put("output.logits", logits.data());
        tensors.put("output.loss", loss.data());
        model.namedParameters().forEach((name, p) -> tensors.put("grad." + name, p.grad()));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("config", Json.write(moe.toMap()));
        meta.put("seed", Long.toString(seed));
        meta.put("batch", Integer.toString(batch));
        meta.put("seq_len", Integer.toString(seqLen));
        meta.put("ignore_index", Integer.toString(IGNORE_INDEX));
        Safetensors.write(out, tensors, Set.of("input.tokens", "input.targets"), meta);
        return loss.item();
    }

    private static Tensor asTensor(int[] values, int rows, int cols) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = values[i];
        }
        return Tensor.wrap(f, rows, cols);
    }
}
