package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A run directory as {@code lory4j train} writes it: {@code config.json} (the model, Hugging Face keys),
 * {@code tokenizer.json}, {@code run.json} (the training options, for {@code --resume}), {@code latest.safetensors}
 * (the checkpoint: weights, optimizer, step, data position) and {@code metrics.json}. The other commands take a run
 * directory or a checkpoint file.
 */
record RunDir(Path dir, Path checkpoint) {
    static final String CONFIG = "config.json";
    static final String TOKENIZER = "tokenizer.json";
    static final String OPTIONS = "run.json";
    static final String CHECKPOINT = "latest.safetensors";
    static final String METRICS = "metrics.json";
    private static final List<String> FILES = List.of(CONFIG, TOKENIZER, OPTIONS, CHECKPOINT, METRICS);

    /**
     * A directory for a new run: created if missing; one that holds a run is refused unless {@code force} (then its
     * run files are deleted); checked writable before any work.
     */
    static RunDir fresh(Path dir, boolean force) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + " is a file, not a directory");
        }
        if (Files.isDirectory(dir)) {
            boolean holdsRun = FILES.stream().anyMatch(f -> Files.exists(dir.resolve(f)));
            if (holdsRun && !force) {
                throw new IllegalArgumentException(dir + " already holds a run; --resume " + dir
                        + " continues it, --force starts over in it");
            }
            for (String f : FILES) {
                Files.deleteIfExists(dir.resolve(f));
            }
        }
        Files.createDirectories(dir);
        checkWritable(dir);
        return new RunDir(dir, dir.resolve(CHECKPOINT));
    }

    /** Fails with the reason unless a file can be created in {@code dir}. */
    static void checkWritable(Path dir) throws IOException {
        Path probe;
        try {
            probe = Files.createTempFile(dir, ".lory4j-write-check", ".tmp");
        } catch (IOException e) {
            throw new IOException(dir + " is not writable: " + Main.message(e), e);
        }
        Files.delete(probe);
    }

    /** An existing run: a run directory, or a checkpoint file (its directory holds the tokenizer, if any). */
    static RunDir existing(Path path) {
        if (Files.isRegularFile(path)) {
            return new RunDir(path.toAbsolutePath().getParent(), path);
        }
        if (!Files.isDirectory(path)) {
            throw new IllegalArgumentException(path + ": no such run directory or checkpoint file");
        }
        Path ckpt = path.resolve(CHECKPOINT);
        if (!Files.isRegularFile(ckpt)) {
            throw new IllegalArgumentException(path + " holds no checkpoint (" + CHECKPOINT + "): not a run of "
                    + "lory4j train, or it stopped before its first checkpoint");
        }
        return new RunDir(path, ckpt);
    }

    /** A file of the run. */
    Path file(String name) {
        return dir.resolve(name);
    }

    /** The model of the checkpoint, in training mode. */
    MoeModel model() throws IOException {
        return MoeModel.load(checkpoint);
    }

    /** The run's tokenizer, or {@code override} (a tokenizer.json) when given; the byte tokenizer when none. */
    Tokenizer tokenizer(Path override) throws IOException {
        Path file = override != null ? override : file(TOKENIZER);
        if (override == null && !Files.exists(file)) {
            return new ByteTokenizer();
        }
        return Tokenizer.load(file);
    }

    /** The training options of {@code run.json} (empty when the run has none). */
    Map<String, Object> options() throws IOException {
        Path f = file(OPTIONS);
        return Files.exists(f) ? Json.parseObject(Files.readString(f), f.toString()) : Map.of();
    }

    /** Writes a JSON file of the run atomically (a temporary file moved over it). */
    void writeJson(String name, Object value) throws IOException {
        writeAtomically(file(name), Json.write(value));
    }

    /** Writes {@code text} to {@code target} through a temporary file beside it: readers see the old or the new. */
    static void writeAtomically(Path target, String text) throws IOException {
        Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, text);
            Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
