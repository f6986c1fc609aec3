package dev.lory4j.cli;

import static dev.lory4j.cli.MainTest.exec;
import static dev.lory4j.cli.MainTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.io.Json;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each command on a tiny model and a small JSONL.gz file of two domains: train (with a BPE trained on the data, a
 * stop and an exact resume), eval, generate, inspect and export, and the errors a user meets first.
 */
class CommandsTest {
    @TempDir
    static Path dir;
    static Path data;
    static Path run;

    static final String[] MODEL = {"--hidden", "16", "--layers", "2", "--heads", "2", "--experts", "3",
        "--segment", "8", "--seq", "32", "--batch", "4", "--steps", "6", "--eval-every", "3", "--checkpoint-every",
        "2", "--eval-rows", "8", "--tokenizer", "bpe", "--vocab", "300", "--batching", "random"};

    static String[] train(Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("train", "--data", data.toString(), "--out",
                out.toString()));
        a.addAll(List.of(MODEL));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void trainOnce() throws Exception {
        data = dir.resolve("docs.jsonl.gz");
        String[] recipes = {"flour sugar butter eggs; bake the cake at 180 degrees for %d minutes, then cool it.",
            "mix the dough, knead it %d times and let the bread rise until it doubles."};
        String[] code = {"for (int i = 0; i < %d; i++) { sum += values[i]; }",
            "if (count > %d) { return list.get(count - 1); } else { return null; }"};
        try (OutputStream gz = new GZIPOutputStream(Files.newOutputStream(data));
             Writer w = new java.io.OutputStreamWriter(gz, StandardCharsets.UTF_8)) {
            for (int i = 0; i < 60; i++) {
                String[] src = i % 2 == 0 ? recipes : code;
                String text = (String.format(src[i % 4 / 2], i) + " ").repeat(3 + i % 3);
                w.write(Json.write(Map.of("id", "d" + i, "domain", i % 2 == 0 ? "recipes" : "code", "text", text))
                        + "\n");
            }
        }
        run = dir.resolve("run");
        String out = run(train(run));
        assertThat(out).contains("tokenizer: BPE of 300 tokens").contains("held-out perplexity").contains("run: ");
        for (String f : List.of("config.json", "tokenizer.json", "run.json", "latest.safetensors", "metrics.json")) {
            assertThat(run.resolve(f)).exists();
        }
    }

    @Test
    void aStoppedRunResumesToTheSameCheckpointBitForBit() throws Exception {
        Path stopped = dir.resolve("stopped");
        MainTest.Result r = exec(train(stopped, "--stop-after", "3"));
        assertThat(r.status()).as(r.err()).isEqualTo(130);
        assertThat(r.out()).contains("stopped at step 3 of 6").contains("lory4j train --resume " + stopped);
        String out = run("train", "--resume", stopped.toString());
        assertThat(out).contains("resumed from").contains("at step 3");
        assertThat(Files.readAllBytes(stopped.resolve("latest.safetensors")))
                .isEqualTo(Files.readAllBytes(run.resolve("latest.safetensors")));
        List<?> steps = (List<?>) Json.parseObject(Files.readString(stopped.resolve("metrics.json")), "m").get("steps");
        assertThat(steps).hasSize(6);
    }

    @Test
    void aRunIsNeverOverwrittenWithoutForceAndResumeTakesNoOtherOptions() {
        MainTest.Result r = exec(train(run));
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains(run + " already holds a run; --resume " + run + " continues it, --force");
        r = exec("train", "--resume", run.toString(), "--steps", "9");
        assertThat(r.err()).contains("--resume continues a run with the options in its run.json; drop --steps");
        r = exec("train", "--data", dir.resolve("missing.jsonl").toString(), "--out", dir.resolve("x").toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("missing.jsonl does not exist");
        r = exec("train", "--data", data.toString(), "--out", data.toString());
        assertThat(r.err()).contains(data + " is a file, not a directory");
        Path damaged = dir.resolve("damaged");
        assertThat(exec(train(damaged, "--stop-after", "1")).status()).isEqualTo(130); // a stopped run to damage
        try {
            java.nio.file.Files.writeString(damaged.resolve("run.json"), java.nio.file.Files.readString(
                    damaged.resolve("run.json")).replace("\"steps\":6", "\"steps\":\"six\""));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        r = exec("train", "--resume", damaged.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("run.json: 'steps' must be an integer").contains("\"six\"");
        r = exec("eval", dir.resolve("nothing").toString(), "--data", data.toString());
        assertThat(r.err()).contains("nothing: no such run directory or checkpoint file");
    }

    @Test
    void trainReadsPackedRowsFromAShardDirectory() throws Exception {
        List<dev.lory4j.data.Document> docs = dev.lory4j.data.Corpus.open(data).load();
        dev.lory4j.data.tokenizer.ByteTokenizer tok = new dev.lory4j.data.tokenizer.ByteTokenizer();
        Path shards = dir.resolve("shards");
        dev.lory4j.data.batch.TokenShards.write(shards, new dev.lory4j.data.batch.Packer(tok, 33).packRandom(docs, 1),
                tok, 10, Map.of());
        Files.copy(data, shards.resolve("heldout.jsonl.gz"));
        Path out = dir.resolve("from-shards");
        String log = run("train", "--data", shards.toString(), "--out", out.toString(), "--eval-data",
                shards.resolve("heldout.jsonl.gz").toString(), "--hidden", "16", "--layers", "1", "--heads", "2",
                "--experts", "2", "--segment", "8", "--batch", "4", "--steps", "3");
        assertThat(log).contains("packed rows in").contains("shards batching").contains("held-out perplexity");
        assertThat(Json.parseObject(Files.readString(out.resolve("run.json")), "run.json")).containsEntry("seq", 32L);
        assertThat(exec("train", "--data", shards.toString(), "--out", dir.resolve("x").toString(), "--seq", "64")
                .err()).contains("--seq 64 differs");
    }

    @Test
    void evalPrintsEveryDomainAndWritesJson() throws Exception {
        Path json = dir.resolve("eval.json");
        String out = run("eval", run.toString(), "--data", data.toString(), "--json", json.toString());
        assertThat(out).contains("routing causal_segment").contains("recipes").contains("code").contains("all");
        Map<String, Object> m = Json.parseObject(Files.readString(json), "eval");
        assertThat((List<?>) m.get("domains")).hasSize(3);
        assertThat(m.get("window")).isEqualTo(32L);
        assertThat(exec("eval", run.toString(), "--data", data.toString(), "--routing", "sideways").err())
                .contains("--routing 'sideways' is not one of");
    }

    @Test
    void generateContinuesThePrompt() {
        String out = run("generate", run.toString(), "--prompt", "mix the", "--max-new", "12", "--temperature", "0");
        assertThat(out).startsWith("mix the");
        assertThat(run("generate", run.resolve("latest.safetensors").toString(), "--prompt", "for", "--max-new", "5",
                "--seed", "3")).startsWith("for");
    }

    @Test
    void inspectWritesTheRoutingReport() throws Exception {
        Path out = dir.resolve("inspect");
        assertThat(run("inspect", run.toString(), "--data", data.toString(), "--out", out.toString()))
                .contains("report:");
        assertThat(Files.readString(out.resolve("report.html"))).contains("Expert usage").contains("recipes")
                .contains("Routing on held-out documents").contains("I(domain; expert), bits");
        assertThat(Files.readString(out.resolve("routing.csv"))).startsWith("row_id,layer,batch_row,segment,domain");
    }

    @Test
    void exportWritesAHuggingFaceDirectory() throws Exception {
        Path out = dir.resolve("export");
        assertThat(run("export", run.toString(), "--out", out.toString())).contains("model.safetensors");
        Map<String, Object> config = Json.parseObject(Files.readString(out.resolve("config.json")), "config");
        assertThat(config).containsEntry("model_type", "lory").containsEntry("vocab_size", 300L)
                .containsEntry("num_hidden_layers", 2L);
        assertThat(dev.lory4j.autograd.io.Safetensors.read(out.resolve("model.safetensors")).tensors())
                .containsKey("model.embed_tokens.weight").noneSatisfy((k, v) -> assertThat(k).startsWith("optimizer"));
        assertThat(dev.lory4j.data.tokenizer.Tokenizer.load(out.resolve("tokenizer.json")).vocabSize()).isEqualTo(300);
        assertThat(exec("export", run.toString(), "--out", out.toString()).err()).contains("--force overwrites it");
    }
}
