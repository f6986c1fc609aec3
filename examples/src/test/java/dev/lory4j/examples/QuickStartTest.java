package dev.lory4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's quick start is QuickStart's code, and it runs. */
class QuickStartTest {
    /** The non-blank lines between the markers, stripped. */
    private static List<String> between(List<String> lines, String begin, String end) {
        int from = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(begin) && from < 0) {
                from = i + 1;
            } else if (from >= 0 && lines.get(i).contains(end)) {
                return lines.subList(from, i).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            }
        }
        throw new AssertionError("no lines between '" + begin + "' and '" + end + "'");
    }

    @Test
    void theReadmeShowsTheQuickStartsCode() throws Exception {
        List<String> readme = Files.readAllLines(Path.of("..", "README.md"));
        int section = readme.indexOf("## Use as a library");
        assertThat(section).as("the README's library section").isNotNegative();
        List<String> fromReadme = between(readme.subList(section, readme.size()), "```java", "```");
        List<String> program = between(Files.readAllLines(
                Path.of("src/main/java/dev/lory4j/examples/QuickStart.java")), "quick start: begin", "quick start: end");
        assertThat(fromReadme).containsExactlyElementsOf(program);
    }

    @Test
    void theQuickStartRuns(@TempDir Path dir) throws Exception {
        PrintStream before = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            QuickStart.main(new String[] {dir.resolve("model.safetensors").toString()});
        } finally {
            System.setOut(before);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).startsWith("Whisk 3 eggs").contains("layer 0, segment 0: [").contains("layer 1, segment 2: [");
        assertThat(dir.resolve("model.safetensors")).exists();
        assertThat(Arrays.stream(text.split("\n")).filter(l -> l.startsWith("layer ")).count()).isEqualTo(2 * 4);
    }
}
