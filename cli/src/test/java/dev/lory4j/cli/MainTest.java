package dev.lory4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    /** What a command printed and its exit status. */
    record Result(int status, String out, String err) {}

    static Result exec(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static String run(String... args) {
        Result r = exec(args);
        assertThat(r.status()).as(r.err()).isZero();
        return r.out();
    }

    @Test
    void tourRunsOnSmallSizes() {
        String out = run("tour", "--size", "48", "--seed", "3");
        assertThat(out).contains("backend=cpu").contains("softmax(x, axis=-1)")
                .containsPattern("matmul 48x48 \\. 48x48: best of \\d+ runs [0-9.]+ ms = [0-9.]+ GFLOP/s");
    }

    @Test
    void tinyDemoRunsTheWholePipelineAndWritesTheReport(@TempDir Path dir) throws Exception {
        String out = run("demo", "--steps", "6", "--hidden", "16", "--layers", "2", "--seq", "32", "--experts", "3",
                "--segment", "8", "--out", dir.toString());
        assertThat(out).contains("similarity batching:").contains("domain").contains("dense ppl").contains("report:");
        String html = Files.readString(dir.resolve("report.html"));
        assertThat(html).contains("<svg").contains("layer 1").contains("Expert usage");
        assertThat(Files.readString(dir.resolve("routing.csv"))).startsWith("row_id,layer,batch_row,segment,domain,"
                + "document,doc_offset,token_start,token_end,weights_from_segment,own_tokens,w0,w1,w2\n");
        assertThat(Files.readString(dir.resolve("routing.json"))).startsWith("[{\"row_id\":0,\"layer\":0,");
        assertThat(html).contains("Specialisation").contains("bits").contains("Routing on held-out documents")
                .contains("upcycling").contains("lory4j 0.1.0").doesNotContainPattern("<svg [^>]*\\swidth='\\d+'");
        assertThat(out).contains("change").doesNotContain("smoke test");
        checkRoutingCsv(dir.resolve("routing.csv"), 8, 32);
        checkMetrics(dir.resolve("metrics.json"), false);
        assertThat(out).contains("unigram entropy of the training tokens");
        assertThat(html).contains("How far the experts moved apart");
        assertThat(dir.resolve("lory/latest.safetensors")).exists();
        assertThat(dir.resolve("dense/latest.safetensors")).exists();
        Result again = exec("demo", "--steps", "6", "--out", dir.toString());
        assertThat(again.status()).isEqualTo(2);
        assertThat(again.err()).contains("holds a finished demo run (report.html); --force runs again");
        // --resume continues from the checkpoints: here both models are done, so it only evaluates and reports
        String resumed = run("demo", "--steps", "6", "--hidden", "16", "--layers", "2", "--seq", "32", "--experts",
                "3", "--segment", "8", "--out", dir.toString(), "--resume");
        assertThat(resumed).contains("resumed from").contains("at step 6");
        String table = out.substring(out.indexOf("dense ppl"), out.indexOf("final training loss"));
        assertThat(resumed).contains(table); // the same per-domain table
    }

    /** routing.csv: (layer, domain, row, segment) never repeats; token ranges follow the segments; documents named. */
    static void checkRoutingCsv(Path csv, int segment, int seqLen) throws Exception {
        List<String> lines = Files.readAllLines(csv);
        List<String> head = List.of(lines.get(0).split(","));
        java.util.Set<String> keys = new java.util.HashSet<>();
        java.util.Set<String> rows = new java.util.HashSet<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            java.util.function.Function<String, String> col = name -> f[head.indexOf(name)];
            int s = Integer.parseInt(col.apply("segment"));
            assertThat(keys.add(col.apply("layer") + "/" + col.apply("domain") + "/" + col.apply("row_id") + "/" + s))
                    .as(line).isTrue();
            rows.add(col.apply("row_id"));
            assertThat(Integer.parseInt(col.apply("token_start"))).isEqualTo(s * segment);
            assertThat(Integer.parseInt(col.apply("token_end"))).isEqualTo(Math.min(seqLen, (s + 1) * segment));
            assertThat(Integer.parseInt(col.apply("weights_from_segment"))).isEqualTo(Math.max(0, s - 1));
            assertThat(col.apply("own_tokens")).isEqualTo(s == 0 ? "true" : "false");
            assertThat(col.apply("document")).isNotEmpty();
            assertThat(Integer.parseInt(col.apply("doc_offset"))).isNotNegative();
        }
        assertThat(rows.size()).isGreaterThan(8); // more rows than one batch: ids do not restart per batch
    }

    /** metrics.json parses and names its fields. */
    @SuppressWarnings("unchecked")
    static void checkMetrics(Path file, boolean smokeTest) throws Exception {
        Map<String, Object> m = Json.parseObject(Files.readString(file), "metrics");
        assertThat(m).containsKeys("version", "seed", "backend", "wall_seconds", "tokens_per_second", "parameters",
                "options", "training", "model_config", "perplexity", "eval_history", "upcycle_step",
                "mutual_information_bits");
        assertThat(m.get("smoke_test")).isEqualTo(smokeTest);
        assertThat((Map<String, Object>) m.get("options")).containsEntry("steps", 6L).containsEntry("segment", 8L);
        Map<String, Map<String, Object>> ppl = (Map<String, Map<String, Object>>) m.get("perplexity");
        assertThat(ppl.get("code")).containsKeys("dense", "lory");
        assertThat((Double) ppl.get("code").get("lory")).isGreaterThan(1);
        Map<String, Map<String, Object>> params = (Map<String, Map<String, Object>>) m.get("parameters");
        assertThat((Long) params.get("lory").get("active")).isLessThan((Long) params.get("lory").get("total"));
        List<Map<String, Object>> evals = (List<Map<String, Object>>) ((Map<String, Object>) m.get("eval_history"))
                .get("lory");
        assertThat(evals).isNotEmpty();
        assertThat((Map<String, Object>) evals.get(0).get("perplexity")).containsKeys("code", "all");
        assertThat((Double) ((Map<String, Object>) m.get("tokens_per_second")).get("lory")).isPositive();
    }

    @Test
    void quickDemoIsASmokeTestWithoutAVerdict(@TempDir Path dir) throws Exception {
        String out = run("demo", "--quick", "--steps", "6", "--hidden", "16", "--layers", "2", "--seq", "32",
                "--experts", "3", "--segment", "8", "--out", dir.toString());
        String table = out.substring(out.indexOf("dense ppl"), out.indexOf("final training loss"));
        assertThat(out).contains("a smoke test");
        assertThat(table.lines().findFirst().orElseThrow()).doesNotContain("change"); // the header
        assertThat(table).doesNotContainPattern("[+-]\\d+\\.\\d%").contains("too few for a comparison");
        assertThat(Files.readString(dir.resolve("report.html"))).contains("A smoke test").doesNotContain(
                "<th>change</th>");
        checkMetrics(dir.resolve("metrics.json"), true);
    }

    @Test
    void helpAndBadArguments() {
        assertThat(run("help")).contains("Usage: lory4j").contains("train").contains("eval").contains("generate")
                .contains("inspect").contains("export").contains("demo");
        assertThat(run("train", "--help")).contains("--resume").contains("--data").contains("--tokenizer");
        Result r = exec("fly");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("Unmatched argument at index 0: 'fly'");
        r = exec("tour", "--size", "0");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("lory4j tour: option --size needs a positive integer, got 0");
        r = exec("tour", "--size");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required parameter for option '--size'");
        r = exec("demo", "--bogus");
        assertThat(r.err()).contains("Unknown option: '--bogus'");
        r = exec("tour", "--size", "many");
        assertThat(r.err()).contains("Invalid value for option '--size': 'many' is not an int");
    }

    @Test
    void missingVectorModuleStopsWithOneSentenceNamingTheFlag() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String cp = System.getProperty("java.class.path");
        Process p = new ProcessBuilder(List.of(java, "-cp", cp, Main.class.getName(), "demo"))
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(out.strip()).isEqualTo("lory4j: lory4j needs the Vector API: add --add-modules jdk.incubator.vector"
                + " to the java command line (JDK 25 or newer).");
    }
}
