package dev.lory4j.autograd.io;

import dev.lory4j.autograd.nn.Module;
import dev.lory4j.autograd.optim.Optimizer;
import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Training checkpoints in one safetensors file: the model's parameters under their Hugging Face names, the
 * optimizer's tensors under {@code optimizer.<name>}, and in {@code __metadata__} the model config (JSON,
 * Hugging Face keys), the step, the optimizer's step count, the RNG state and any extra training state as
 * strings. Writes are atomic (see {@link Safetensors#write}), so a crash leaves the previous file intact.
 */
public final class Checkpoint {
    private Checkpoint() {}

    /** Prefix of optimizer tensors in the file. */
    public static final String OPTIMIZER_PREFIX = "optimizer.";

    /** Training progress stored next to the tensors. */
    public record TrainState(long step, long rngSeed, long rngPosition, Map<String, String> extra) {
        /** Copies {@code extra}. */
        public TrainState {
            extra = Map.copyOf(extra);
        }
    }

    /** What a checkpoint holds. */
    public record Loaded(Map<String, Tensor> model, Map<String, Tensor> optimizer, Map<String, Object> config,
                         long optimizerSteps, TrainState state) {
        /** Copies the model tensors into {@code model} (strict names and shapes) and the state into {@code opt}. */
        public void restore(Module target, Optimizer opt) {
            target.loadStateDict(model, true);
            if (opt != null) {
                opt.loadState(optimizerSteps, optimizer);
            }
        }
    }

    /** Saves model, optimizer (may be null) and state atomically to {@code file}. */
    public static void save(Path file, Module model, Map<String, Object> config, Optimizer opt, TrainState state)
            throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateDict());
        if (opt != null) {
            opt.stateTensors().forEach((k, t) -> tensors.put(OPTIMIZER_PREFIX + k, t));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("config", Json.write(config));
        meta.put("lory4j.step", Long.toString(state.step()));
        meta.put("lory4j.optimizer_steps", Long.toString(opt == null ? 0 : opt.steps()));
        meta.put("lory4j.rng_seed", Long.toString(state.rngSeed()));
        meta.put("lory4j.rng_position", Long.toString(state.rngPosition()));
        new java.util.TreeMap<>(state.extra()).forEach((k, v) -> meta.put("lory4j.extra." + k, v)); // sorted: the
        // file's bytes do not depend on a map's iteration order
        Safetensors.write(file, tensors, meta);
    }

    /**
     * Deletes what crashed writes left in {@code dir}: the temporary files {@link Safetensors#write} makes beside its
     * target ({@code .NAME.HEX.tmp}); returns how many. The files written completely are never touched.
     */
    public static int removeStaleTemporaries(Path dir) throws IOException {
        if (!java.nio.file.Files.isDirectory(dir)) {
            return 0;
        }
        int n = 0;
        try (var files = java.nio.file.Files.newDirectoryStream(dir, ".*.safetensors.*.tmp")) {
            for (Path f : files) {
                if (f.getFileName().toString().matches("\\..+\\.safetensors\\.[0-9a-f]+\\.tmp")) {
                    java.nio.file.Files.deleteIfExists(f);
                    n++;
                }
            }
        }
        return n;
    }

    /** Saves the model's weights and its config (no optimizer; step 0) atomically to {@code file}. */
    public static void saveWeights(Path file, Module model, Map<String, Object> config) throws IOException {
        save(file, model, config, null, new TrainState(0, 0, 0, Map.of()));
    }

    /** Reads a checkpoint; missing or malformed metadata is a {@link SafetensorsException} naming the key. */
    public static Loaded load(Path file) throws IOException {
        SafetensorsFile f = Safetensors.read(file);
        Map<String, Tensor> model = new LinkedHashMap<>();
        Map<String, Tensor> optimizer = new LinkedHashMap<>();
        f.tensors().forEach((k, t) -> {
            if (k.startsWith(OPTIMIZER_PREFIX)) {
                optimizer.put(k.substring(OPTIMIZER_PREFIX.length()), t);
            } else {
                model.put(k, t);
            }
        });
        Map<String, String> meta = f.metadata();
        String cfg = meta.get("config");
        if (cfg == null) {
            throw new SafetensorsException(file.toString(), "checkpoint metadata has no 'config'");
        }
        Map<String, Object> config;
        try {
            config = Json.parseObject(cfg, "config in " + file);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file.toString(), e.getMessage(), e);
        }
        Map<String, String> extra = new LinkedHashMap<>();
        meta.forEach((k, v) -> {
            if (k.startsWith("lory4j.extra.")) {
                extra.put(k.substring("lory4j.extra.".length()), v);
            }
        });
        TrainState state = new TrainState(number(file, meta, "lory4j.step"), number(file, meta, "lory4j.rng_seed"),
                number(file, meta, "lory4j.rng_position"), extra);
        return new Loaded(model, optimizer, config, number(file, meta, "lory4j.optimizer_steps"), state);
    }

    private static long number(Path file, Map<String, String> meta, String key) throws SafetensorsException {
        String v = meta.get(key);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new SafetensorsException(file.toString(), "checkpoint metadata '" + key + "' is "
                    + (v == null ? "missing" : "not an integer: '" + v + "'"));
        }
    }
}
