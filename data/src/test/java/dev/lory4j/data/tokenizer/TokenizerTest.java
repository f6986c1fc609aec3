package dev.lory4j.data.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
    static BpeTokenizer bpe;
    static final ByteTokenizer BYTES = new ByteTokenizer();

    @BeforeContainer
    static void train() {
        bpe = trained();
    }

    static synchronized BpeTokenizer trained() {
        if (bpe == null) {
            List<String> texts = new ArrayList<>();
            long size = 0;
            for (Document d : Corpus.bundled()) {
                if (size > 1_500_000) {
                    break;
                }
                texts.add(d.text());
                size += d.text().length();
            }
            bpe = new BpeTrainer(1024).train(texts).tokenizer();
        }
        return bpe;
    }

    /** Any UTF-16 string: arbitrary chars, so unpaired surrogates, controls and supplementary pairs all occur. */
    @Provide
    Arbitrary<String> anyString() {
        Arbitrary<String> raw = Arbitraries.strings().all().ofMaxLength(60);
        Arbitrary<String> text = Arbitraries.of("the whale", " def f(x):\n    return x", "\uD83D\uDE00 emoji",
                "\uD800", "\uDC00x", "'s 're", "  \t\n  ", "ünïcödé 123,456", "");
        return Arbitraries.oneOf(raw, text.list().ofMaxSize(5).map(l -> String.join("", l)),
                Arbitraries.strings().withCharRange('\uD7F0', '\uE010').ofMaxLength(12));
    }

    @Property(tries = 400)
    void wtf8RoundTripsEveryString(@ForAll("anyString") String s) {
        assertThat(Wtf8.decode(Wtf8.encode(s))).isEqualTo(s);
        assertThat(Wtf8.encode(s)).hasSize(Wtf8.encodedLength(s));
    }

    @Property(tries = 300)
    void wtf8IsUtf8OnWellFormedText(@ForAll("anyString") String s) {
        boolean wellFormed = true;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                wellFormed = false;
            }
        }
        if (wellFormed) {
            assertThat(Wtf8.encode(s)).isEqualTo(s.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Property(tries = 300)
    void byteTokenizerRoundTrips(@ForAll("anyString") String s) {
        int[] ids = BYTES.encode(s);
        assertThat(java.util.Arrays.stream(ids)).allMatch(i -> i >= 0 && i < 256);
        assertThat(BYTES.decode(ids)).isEqualTo(s);
    }

    @Property(tries = 300)
    void bpeRoundTrips(@ForAll("anyString") String s) {
        int[] ids = trained().encode(s);
        assertThat(java.util.Arrays.stream(ids)).allMatch(i -> i >= 0 && i < trained().vocabSize() && i != 256 && i != 257);
        assertThat(trained().decode(ids)).isEqualTo(s);
    }

    @Test
    void emptyInputAndSpecials() {
        assertThat(BYTES.encode("")).isEmpty();
        assertThat(BYTES.decode(new int[0])).isEmpty();
        assertThat(trained().encode("")).isEmpty();
        assertThat(BYTES.documentBoundaryId()).isEqualTo(256);
        assertThat(trained().documentBoundaryId()).isEqualTo(256);
        assertThat(trained().padId()).isEqualTo(257);
        int[] ids = {104, 105, 256, 0xC3, 0xA9, 257};
        assertThat(BYTES.decode(ids)).isEqualTo("hi<|endoftext|>é<|pad|>");
        assertThat(trained().decode(ids)).isEqualTo("hi<|endoftext|>é<|pad|>");
        // text that spells a special token is ordinary text, never the special id
        assertThat(trained().encode("<|endoftext|>")).doesNotContain(256);
        assertThatThrownBy(() -> BYTES.decode(new int[] {300})).hasMessageContaining("id 300");
    }

    @Test
    void invalidBytesDecodeToReplacementCharacters() {
        assertThat(Wtf8.decode(new byte[] {(byte) 0x80, 'a', (byte) 0xC3})).isEqualTo("\uFFFDa\uFFFD");
        assertThat(Wtf8.decode(new byte[] {(byte) 0xC0, (byte) 0x80})).isEqualTo("\uFFFD\uFFFD"); // overlong
        assertThat(Wtf8.decode(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80})).isEqualTo("\uD800");
    }

    @Test
    void bpeLearnsTheMostFrequentPairFirstAndCompresses() {
        BpeTrainer.Result r = new BpeTrainer(258 + 3).train(List.of("aaabdaaabac aaabdaaabac"));
        BpeTokenizer t = r.tokenizer();
        assertThat(t.mergeCount()).isEqualTo(3);
        // chunks "aaabdaaabac" and " aaabdaaabac": (a, a) occurs 8 times, more than any other pair
        assertThat(t.merge(0)).containsExactly('a', 'a', 258);
        assertThat(t.vocabSize()).isEqualTo(261);
        // stops early when no pair reaches minFrequency
        assertThat(new BpeTrainer(1000, 2).train(List.of("abcdefg")).merges()).isZero();

        String sample = Corpus.bundled().load().get(10).text();
        int[] ids = trained().encode(sample);
        assertThat(ids.length).isLessThan(sample.getBytes(StandardCharsets.UTF_8).length / 2);
        assertThat(trained().decode(ids)).isEqualTo(sample);
        assertThat(trained().vocabSize()).isEqualTo(1024);
    }

    @Test
    void trainingIsDeterministic() {
        List<String> texts = List.of("the cat sat on the mat", "the dog sat on the log", "then the cat ran");
        BpeTokenizer a = new BpeTrainer(300, 1).train(texts).tokenizer();
        BpeTokenizer b = new BpeTrainer(300, 1).train(texts).tokenizer();
        assertThat(a.mergeCount()).isEqualTo(b.mergeCount()).isPositive();
        for (int r = 0; r < a.mergeCount(); r++) {
            assertThat(a.merge(r)).containsExactly(b.merge(r));
        }
    }

    @Test
    void saveAndLoadAsHuggingFaceTokenizerJson(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("tokenizer.json");
        trained().save(f);
        String json = Files.readString(f);
        assertThat(json).contains("\"type\" : \"BPE\"").contains("\"ByteLevel\"").contains("<|endoftext|>")
                .contains("\"Ġ\" : 32"); // GPT-2's byte-to-character map: the space byte is 'Ġ'
        Tokenizer back = Tokenizer.load(f);
        assertThat(back.vocabSize()).isEqualTo(trained().vocabSize());
        assertThat(back.documentBoundaryId()).isEqualTo(256);
        String s = "Call me Ishmael. Some years ago\u2014never mind how long precisely \uD83D\uDC33 \uDC00";
        assertThat(back.encode(s)).containsExactly(trained().encode(s));
        assertThat(back.decode(back.encode(s))).isEqualTo(s);

        Path bytes = dir.resolve("bytes.json");
        BYTES.save(bytes);
        Tokenizer b = Tokenizer.load(bytes);
        assertThat(b.vocabSize()).isEqualTo(258);
        assertThat(b.encode(s)).containsExactly(BYTES.encode(s));
    }

    @Test
    void loadRejectsForeignFilesWithAReason(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("wp.json");
        Files.writeString(f, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
        assertThatThrownBy(() -> Tokenizer.load(f)).hasMessageContaining("WordPiece").hasMessageContaining("wp.json");
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
        assertThatThrownBy(() -> Tokenizer.load(f)).hasMessageContaining("byte 0 has no token");
        assertThatThrownBy(() -> new BpeTrainer(100)).hasMessageContaining("vocabSize 100");
    }

    @Test
    void preTokenizerFollowsGpt2() {
        List<String> chunks = new ArrayList<>();
        PreTokenizer.split("Hello world's 12 cats!!  \n  x", chunks::add);
        assertThat(chunks).containsExactly("Hello", " world", "'s", " 12", " cats", "!!", "  \n ", " x");
    }
}
