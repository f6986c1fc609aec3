package dev.lory4j.autograd.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A deterministic, structure-aware mutation fuzzer that complements the coverage-guided Jazzer run: it edits the
 * JSON header where libFuzzer would need many lucky byte flips (numbers swapped for boundary values, dtype names
 * exchanged, values swapped, names duplicated; the header length kept consistent or tampered with), plus plain
 * byte-level mutations, over the committed seed corpus. Same property as the fuzz test (see {@link ReadChecks}).
 */
class SafetensorsMutationTest {
    private static final int ITERATIONS = 20_000;
    private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?");
    private static final Pattern STRING = Pattern.compile("\"[^\"]*\"");
    private static final Pattern VALUE = Pattern.compile("\"[^\"]*\"|-?\\d+|\\[[^\\[\\]{}]*\\]");
    private static final String[] NUMBERS = {"0", "1", "-1", "2", "3", "4", "7", "8", "16", "24", "-0", "00", "1.5",
        "1e3", "2147483647", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "100000000"};
    private static final String[] STRINGS = {"\"F32\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"I32\"",
        "\"I16\"", "\"I8\"", "\"U64\"", "\"U32\"", "\"U16\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"", "\"f32\"", "\"\"",
        "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "[]", "{}", "null", "1", "[0,0]", "\"\\u0000\""};
    private static final byte[] INTERESTING = {0, -1, 1, 8, '"', '{', '}', '[', ']', ',', ':', '-', '0', '9', ' ',
        (byte) 0x80, (byte) 0xC3, (byte) 0xFF, 0x7F};

    @Test
    void mutantsOnlyEverFailWithSafetensorsException() throws Exception {
        List<byte[]> seeds = seeds();
        Random rnd = new Random(0x5AFE_7E45L);
        int readable = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] mutant = seeds.get(rnd.nextInt(seeds.size()));
            int rounds = 1 + rnd.nextInt(3);
            for (int r = 0; r < rounds; r++) {
                mutant = mutate(mutant, rnd);
            }
            try {
                if (ReadChecks.assertReadIsSafe(mutant)) {
                    readable++;
                }
            } catch (Throwable t) {
                throw new AssertionError("iteration " + i + ": input " + HexFormat.of().formatHex(mutant)
                        + " gave " + t, t);
            }
        }
        // Both the accepting and the rejecting paths were exercised in earnest.
        assertThat(readable).isBetween(ITERATIONS / 50, ITERATIONS - ITERATIONS / 5);
    }

    private static List<byte[]> seeds() throws IOException, URISyntaxException {
        List<byte[]> seeds = new ArrayList<>();
        Path dir = Path.of(SafetensorsMutationTest.class.getResource("SafetensorsFuzzTestInputs/fuzzRead").toURI());
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                seeds.add(Files.readAllBytes(p));
            }
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("layers.0.w", Tensor.arange(12).reshape(3, 4));
        tensors.put("b", Tensor.fromArray(new float[] {0.5f, -1}, 2));
        tensors.put("step", Tensor.scalar(3));
        seeds.add(Safetensors.toBytes(tensors, Set.of("step"), Map.of("format", "pt", "epoch", "2")));
        assertThat(seeds).hasSizeGreaterThan(10);
        return seeds;
    }

    private static byte[] mutate(byte[] in, Random rnd) {
        int op = rnd.nextInt(12);
        if (op >= 6) {
            byte[] structured = mutateHeader(in, rnd, op);
            if (structured != null) {
                return structured;
            }
        }
        byte[] b = in.clone();
        switch (op % 6) {
            case 0 -> {
                if (b.length > 0) {
                    int i = rnd.nextInt(b.length);
                    b[i] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> {
                if (b.length > 0) {
                    b[rnd.nextInt(b.length)] = INTERESTING[rnd.nextInt(INTERESTING.length)];
                }
            }
            case 2 -> {
                int at = rnd.nextInt(b.length + 1);
                byte[] out = new byte[b.length + 1];
                System.arraycopy(b, 0, out, 0, at);
                out[at] = INTERESTING[rnd.nextInt(INTERESTING.length)];
                System.arraycopy(b, at, out, at + 1, b.length - at);
                b = out;
            }
            case 3 -> {
                if (b.length > 0) {
                    int at = rnd.nextInt(b.length);
                    int len = 1 + rnd.nextInt(Math.min(8, b.length - at));
                    byte[] out = new byte[b.length - len];
                    System.arraycopy(b, 0, out, 0, at);
                    System.arraycopy(b, at + len, out, at, b.length - at - len);
                    b = out;
                }
            }
            case 4 -> { // tamper with the header length
                if (b.length >= 8) {
                    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                    long n = bb.getLong(0);
                    long[] choices = {n + rnd.nextInt(33) - 16, rnd.nextLong(), 0, b.length, b.length - 8, -1,
                        Long.MIN_VALUE, 100_000_001};
                    bb.putLong(0, choices[rnd.nextInt(choices.length)]);
                }
            }
            default -> { // truncate or extend the data section
                if (rnd.nextBoolean() && b.length > 0) {
                    b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
                } else {
                    b = java.util.Arrays.copyOf(b, b.length + 1 + rnd.nextInt(8));
                }
            }
        }
        return b;
    }

    /** Edits the header text and rebuilds the length field (with or without padding); null if no header. */
    private static byte[] mutateHeader(byte[] in, Random rnd, int op) {
        if (in.length < 8) {
            return null;
        }
        long n = ByteBuffer.wrap(in).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n < 0 || n > in.length - 8) {
            return null;
        }
        // ISO-8859-1 maps each byte to one char and back, so invalid UTF-8 survives the edit untouched.
        String header = new String(in, 8, (int) n, StandardCharsets.ISO_8859_1);
        byte[] data = java.util.Arrays.copyOfRange(in, 8 + (int) n, in.length);
        String edited = switch (op) {
            case 6, 7 -> replaceOne(header, NUMBER, rnd, NUMBERS);
            case 8, 9 -> replaceOne(header, STRING, rnd, STRINGS);
            case 10 -> swapTwo(header, rnd);
            default -> duplicateName(header, rnd);
        };
        if (edited == null) {
            return null;
        }
        byte[] h = edited.getBytes(StandardCharsets.ISO_8859_1);
        if (rnd.nextInt(4) != 0) {
            h = java.util.Arrays.copyOf(h, h.length + (8 - h.length % 8) % 8);
            for (int i = edited.length(); i < h.length; i++) {
                h[i] = ' ';
            }
        }
        return Images.raw(h.length, h, data);
    }

    private static String replaceOne(String s, Pattern p, Random rnd, String[] choices) {
        List<int[]> spans = spans(s, p);
        if (spans.isEmpty()) {
            return null;
        }
        int[] span = spans.get(rnd.nextInt(spans.size()));
        return s.substring(0, span[0]) + choices[rnd.nextInt(choices.length)] + s.substring(span[1]);
    }

    private static String swapTwo(String s, Random rnd) {
        List<int[]> spans = spans(s, VALUE);
        if (spans.size() < 2) {
            return null;
        }
        int i = rnd.nextInt(spans.size());
        int j = rnd.nextInt(spans.size());
        if (i == j) {
            return null;
        }
        int[] a = spans.get(Math.min(i, j));
        int[] b = spans.get(Math.max(i, j));
        if (a[1] > b[0]) {
            return null;
        }
        return s.substring(0, a[0]) + s.substring(b[0], b[1]) + s.substring(a[1], b[0]) + s.substring(a[0], a[1])
                + s.substring(b[1]);
    }

    /** Renames one key to another key's name (duplicate tensor names, duplicate fields, a second __metadata__). */
    private static String duplicateName(String s, Random rnd) {
        List<int[]> keys = spans(s, Pattern.compile("\"[^\"]*\"(?=:)"));
        if (keys.size() < 2) {
            return null;
        }
        int[] from = keys.get(rnd.nextInt(keys.size()));
        int[] to = keys.get(rnd.nextInt(keys.size()));
        return s.substring(0, to[0]) + s.substring(from[0], from[1]) + s.substring(to[1]);
    }

    private static List<int[]> spans(String s, Pattern p) {
        List<int[]> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        while (m.find()) {
            out.add(new int[] {m.start(), m.end()});
        }
        return out;
    }
}
