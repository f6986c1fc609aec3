package dev.lory4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
        assertThat(Files.readString(dir.resolve("routing.csv"))).startsWith("layer,row,segment,domain,w0,w1,w2");
        assertThat(Files.readString(dir.resolve("routing.json"))).startsWith("[{\"layer\":0,");
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
