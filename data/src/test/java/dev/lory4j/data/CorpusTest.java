package dev.lory4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    static List<Document> bundled;

    @BeforeAll
    static void load() {
        bundled = Corpus.bundled().load();
    }

    @Test
    void bundledCorpusHasFiveDomainsOfNaturalDocumentsAndAFixedSplit() {
        Map<String, Long> perDomain = bundled.stream().collect(Collectors.groupingBy(Document::domain, Collectors.counting()));
        assertThat(perDomain).hasSizeGreaterThanOrEqualTo(5);
        assertThat(perDomain.values()).allMatch(n -> n >= 40);
        Set<String> ids = new HashSet<>();
        for (Document d : bundled) {
            assertThat(ids.add(d.id())).as("unique id %s", d.id()).isTrue();
            int bytes = d.text().getBytes(StandardCharsets.UTF_8).length;
            assertThat(bytes).as("size of %s", d.id()).isBetween(1_000, 50_000);
        }
        long held = bundled.stream().filter(d -> d.split() == Split.HELDOUT).count();
        assertThat((double) held / bundled.size()).isBetween(0.03, 0.10);
        // every domain can be evaluated on held-out documents
        assertThat(bundled.stream().filter(d -> d.split() == Split.HELDOUT).map(Document::domain).distinct().count())
                .isEqualTo(perDomain.size());
        // the same documents on a second pass, in the same order
        assertThat(Corpus.bundled().split(Split.HELDOUT).load())
                .containsExactlyElementsOf(bundled.stream().filter(d -> d.split() == Split.HELDOUT).toList());
    }

    private static Path write(Path file, String content) throws IOException {
        Files.writeString(file, content, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void jsonlWithAndWithoutOptionalFields(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("c.jsonl"), """
                {"text": "alpha", "id": "a1", "domain": "x", "split": "heldout"}

                {"text": "beta", "id": 7, "extra": {"nested": [1, 2]}}
                {"domain": "y", "text": "gamma\\nwith a newline"}
                """);
        Corpus c = Corpus.open(f);
        List<Document> docs = c.load();
        assertThat(docs).extracting(Document::id).containsExactly("a1", "7", "c.jsonl:4");
        assertThat(docs).extracting(Document::domain).containsExactly("x", "default", "y");
        assertThat(docs.get(0).split()).isEqualTo(Split.HELDOUT);
        assertThat(docs.get(2).text()).isEqualTo("gamma\nwith a newline");
        assertThat(c.lastReport().documents()).isEqualTo(3);
        assertThat(c.lastReport().blankLines()).isEqualTo(1);
    }

    @Test
    void malformedLineFailsWithFileAndLineOrIsSkippedAndCounted(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("bad.jsonl"), """
                {"text": "one"}
                {"text": "two"
                {"id": "no-text"}
                [1, 2]
                {"text": 5}
                {"text": "six", "split": "sometimes"}
                {"text": "seven"} {"text": "extra"}
                {"text": "eight"}
                """);
        assertThatThrownBy(() -> Corpus.open(f).load())
                .isInstanceOf(CorpusFormatException.class)
                .hasMessageContaining("bad.jsonl:2")
                .hasMessageContaining("invalid JSON");
        Corpus skip = Corpus.open(f, ReadOptions.defaults().withOnMalformed(ReadOptions.OnMalformed.SKIP));
        assertThat(skip.load()).extracting(Document::text).containsExactly("one", "eight");
        ReadReport r = skip.lastReport();
        assertThat(r.malformed()).isEqualTo(6);
        assertThat(r.documents()).isEqualTo(2);
        assertThat(r.problems()).hasSize(6);
        assertThat(r.problems().get(1)).contains("bad.jsonl:3").contains("missing field 'text'");
        assertThat(r.problems().get(2)).contains(":4").contains("expected a JSON object");
        assertThat(r.problems().get(3)).contains(":5").contains("'text' must be a string");
        assertThat(r.problems().get(4)).contains(":6").contains("sometimes");
        assertThat(r.problems().get(5)).contains(":7").contains("after the object");
        assertThat(r.toString()).contains("6 malformed");
    }

    @Test
    void invalidUtf8IsAnErrorNamingTheLine(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("utf.jsonl");
        byte[] good = "{\"text\": \"ok\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}', '\n'};
        try (OutputStream o = Files.newOutputStream(f)) {
            o.write(good);
            o.write(bad);
            o.write(good);
        }
        assertThatThrownBy(() -> Corpus.open(f).load()).isInstanceOf(CorpusFormatException.class)
                .hasMessageContaining("utf.jsonl:2").hasMessageContaining("UTF-8");
        Corpus skip = Corpus.open(f, ReadOptions.defaults().withOnMalformed(ReadOptions.OnMalformed.SKIP));
        assertThat(skip.load()).hasSize(2);
        assertThat(skip.lastReport().malformed()).isEqualTo(1);
    }

    @Test
    void gzipIsRecognisedByContentNotName(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("plain-name.jsonl");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(f))) {
            for (int i = 0; i < 1000; i++) {
                o.write(("{\"id\": \"d" + i + "\", \"text\": \"document number " + i + "\"}\n").getBytes(StandardCharsets.UTF_8));
            }
        }
        Corpus c = Corpus.open(f);
        // streaming: a partial read closes cleanly
        try (var s = c.stream()) {
            assertThat(s.limit(3).map(Document::id).toList()).containsExactly("d0", "d1", "d2");
        }
        List<Document> all = c.load();
        assertThat(all).hasSize(1000);
        assertThat(all.get(999).text()).isEqualTo("document number 999");
        // the split of documents without one is the hash rule, about 5%
        long held = all.stream().filter(d -> d.split() == Split.HELDOUT).count();
        assertThat(held).isBetween(25L, 80L);
        assertThat(all.stream().allMatch(d -> d.split() == Split.byHash(d.id(), 0.05))).isTrue();
    }

    @Test
    void directoryOfTextFilesTakesDomainsFromFolders(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("poetry/old"));
        Files.createDirectories(dir.resolve("code"));
        write(dir.resolve("poetry/a.txt"), "roses are red");
        write(dir.resolve("poetry/old/b.txt"), "violets are blue");
        write(dir.resolve("code/Main.txt"), "class Main {}");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(dir.resolve("code/z.txt.gz")))) {
            o.write("compressed text".getBytes(StandardCharsets.UTF_8));
        }
        write(dir.resolve("code/more.jsonl"), "{\"text\": \"from jsonl\"}\n");
        write(dir.resolve("notes.md"), "not a corpus file");
        assertThatThrownBy(() -> Corpus.open(dir).load()).isInstanceOf(CorpusFormatException.class)
                .hasMessageContaining("notes.md");
        Corpus c = Corpus.open(dir, ReadOptions.defaults().withOnMalformed(ReadOptions.OnMalformed.SKIP));
        List<Document> docs = c.load();
        assertThat(docs).extracting(Document::id)
                .containsExactly("code/Main", "more.jsonl:1", "code/z", "poetry/a", "poetry/old/b");
        assertThat(docs).extracting(Document::domain).containsExactly("code", "code", "code", "poetry", "poetry");
        assertThat(docs.get(2).text()).isEqualTo("compressed text");
        assertThat(c.lastReport().malformed()).isEqualTo(1);
        assertThat(c.lastReport().files()).isEqualTo(5);
        assertThat(c.domain("poetry").load()).hasSize(2);
    }

    @Test
    void errorsNameTheOperation() {
        assertThatThrownBy(() -> Corpus.open(Path.of("/no/such/corpus.jsonl")))
                .hasMessageContaining("Corpus.open").hasMessageContaining("/no/such/corpus.jsonl");
        assertThatThrownBy(() -> Split.parse("dev")).hasMessageContaining("'dev'");
        assertThatThrownBy(() -> Split.byHash("x", 1.5)).hasMessageContaining("1.5");
    }
}
