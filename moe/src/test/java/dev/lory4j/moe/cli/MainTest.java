package dev.lory4j.moe.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MainTest {

    private static String run(String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertThat(status).isZero();
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void tourRunsOnSmallSizes() {
        String out = run("tour", "--size", "48", "--seed", "3");
        assertThat(out).contains("backend=cpu").contains("softmax(x, axis=-1)")
                .containsPattern("matmul 48x48 \\. 48x48: best of \\d+ runs [0-9.]+ ms = [0-9.]+ GFLOP/s");
    }

    @Test
    void tinyDemoRunsTheWholePipelineAndWritesTheReport(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        String out = run("demo", "--steps", "6", "--hidden", "16", "--layers", "2", "--seq", "32", "--experts", "3",
                "--segment", "8", "--out", dir.toString());
        assertThat(out).contains("similarity batching:").contains("domain").contains("dense ppl").contains("report:");
        String html = java.nio.file.Files.readString(dir.resolve("report.html"));
        assertThat(html).contains("<svg").contains("layer 1").contains("Expert usage");
        assertThat(java.nio.file.Files.readString(dir.resolve("routing.csv"))).startsWith("layer,row,segment,domain,w0,w1,w2");
        assertThat(java.nio.file.Files.readString(dir.resolve("routing.json"))).startsWith("[{\"layer\":0,");
        assertThat(out).contains("unigram entropy of the training tokens");
        assertThat(html).contains("How far the experts moved apart");
        assertThat(dir.resolve("lory/latest.safetensors")).exists();
        assertThat(dir.resolve("dense/latest.safetensors")).exists();
    }

    @Test
    void helpAndBadArguments() {
        assertThat(run("help")).contains("usage: lory4j <command>");
        assertThatThrownBy(() -> run("fly")).hasMessage("unknown command 'fly' (try: lory4j help)");
        assertThatThrownBy(() -> run("tour", "--size", "0")).hasMessage("option --size needs a positive integer, got '0'");
        assertThatThrownBy(() -> run("tour", "--size")).hasMessage("option --size needs a value");
        assertThatThrownBy(() -> run("tour", "--bogus")).hasMessage("tour: unknown option '--bogus'");
        assertThatThrownBy(() -> run("demo", "--bogus")).hasMessage("demo: unknown option '--bogus'");
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
