package dev.lory4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's first errors, named before Spark starts. */
class SparkMainTest {
    @TempDir
    Path tmp;

    private static String[] run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = SparkMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new String[] {"" + status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void helpListsTheCommands() {
        String[] r = run("--help");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("batch").contains("train").contains("demo");
    }

    @Test
    void badArgumentsAreNamed() {
        String[] r = run("train", "--data", tmp.toString(), "--out", tmp.resolve("run").toString());
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("is not a shard directory");
        r = run("batch", "--data", tmp.resolve("missing.jsonl").toString(), "--out", tmp.resolve("s").toString());
        assertThat(r[2]).contains("missing.jsonl does not exist");
        r = run("batch", "--data", "bundled", "--out", tmp.resolve("s").toString(), "--seq", "0");
        assertThat(r[2]).contains("--seq 0");
    }
}
