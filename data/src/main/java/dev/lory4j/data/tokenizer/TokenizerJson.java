package dev.lory4j.data.tokenizer;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face {@code tokenizer.json} for byte-level BPE: {@code model.type = "BPE"} with {@code vocab}
 * (token string to id) and {@code merges} (strings {@code "left right"}), a {@code ByteLevel}
 * pre-tokenizer and decoder, and the special tokens as {@code added_tokens}. Token strings use GPT-2's
 * byte-to-character map (printable bytes stand for themselves, the others are shifted to U+0100..), so a
 * space is {@code Ġ}. Writing is atomic (temporary file, then rename).
 */
final class TokenizerJson {
    private static final JsonFactory JSON = JsonFactory.builder().build();
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            direct[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            direct[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            direct[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++) {
            BYTE_TO_CHAR[b] = direct[b] ? (char) b : (char) (256 + next++);
            CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
        }
    }

    private TokenizerJson() {
    }

    static String tokenString(byte[] bytes) {
        char[] c = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            c[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(c);
    }

    static void write(BpeTokenizer t, Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp);
             JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("version", "1.0");
            g.writeNullField("truncation");
            g.writeNullField("padding");
            g.writeArrayFieldStart("added_tokens");
            for (int id = 0; id < t.vocabSize(); id++) {
                String name = t.specialName(id);
                if (name != null) {
                    g.writeStartObject();
                    g.writeNumberField("id", id);
                    g.writeStringField("content", name);
                    g.writeBooleanField("single_word", false);
                    g.writeBooleanField("lstrip", false);
                    g.writeBooleanField("rstrip", false);
                    g.writeBooleanField("normalized", false);
                    g.writeBooleanField("special", true);
                    g.writeEndObject();
                }
            }
            g.writeEndArray();
            g.writeNullField("normalizer");
            g.writeObjectFieldStart("pre_tokenizer");
            g.writeStringField("type", "ByteLevel");
            g.writeBooleanField("add_prefix_space", false);
            g.writeBooleanField("trim_offsets", true);
            g.writeBooleanField("use_regex", true);
            g.writeEndObject();
            g.writeNullField("post_processor");
            g.writeObjectFieldStart("decoder");
            g.writeStringField("type", "ByteLevel");
            g.writeBooleanField("add_prefix_space", false);
            g.writeBooleanField("trim_offsets", true);
            g.writeBooleanField("use_regex", true);
            g.writeEndObject();
            g.writeObjectFieldStart("model");
            g.writeStringField("type", "BPE");
            g.writeNullField("dropout");
            g.writeNullField("unk_token");
            g.writeNullField("continuing_subword_prefix");
            g.writeNullField("end_of_word_suffix");
            g.writeBooleanField("fuse_unk", false);
            g.writeBooleanField("byte_fallback", false);
            g.writeBooleanField("ignore_merges", false);
            g.writeObjectFieldStart("vocab");
            for (int id = 0; id < t.vocabSize(); id++) {
                String name = t.specialName(id);
                g.writeNumberField(name != null ? name : tokenString(t.tokenBytes(id)), id);
            }
            g.writeEndObject();
            g.writeArrayFieldStart("merges");
            for (int r = 0; r < t.mergeCount(); r++) {
                int[] m = t.merge(r);
                g.writeString(tokenString(t.tokenBytes(m[0])) + " " + tokenString(t.tokenBytes(m[1])));
            }
            g.writeEndArray();
            g.writeEndObject();
            g.writeEndObject();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static BpeTokenizer read(Path file) throws IOException {
        Map<String, Integer> vocab = new HashMap<>();
        List<String[]> merges = new ArrayList<>();
        Map<Integer, String> added = new HashMap<>();
        String modelType = null;
        try (JsonParser p = JSON.createParser(file.toFile())) {
            expect(p, p.nextToken(), JsonToken.START_OBJECT, file, "top level");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken v = p.nextToken();
                if (f.equals("added_tokens") && v == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        Integer id = null;
                        String content = null;
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String k = p.currentName();
                            p.nextToken();
                            if (k.equals("id")) {
                                id = p.getIntValue();
                            } else if (k.equals("content")) {
                                content = p.getText();
                            } else {
                                p.skipChildren();
                            }
                        }
                        if (id == null || content == null) {
                            throw error(file, p, "an added token without id or content");
                        }
                        added.put(id, content);
                    }
                } else if (f.equals("model") && v == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String k = p.currentName();
                        JsonToken mv = p.nextToken();
                        switch (k) {
                            case "type" -> modelType = p.getText();
                            case "vocab" -> {
                                expect(p, mv, JsonToken.START_OBJECT, file, "model.vocab");
                                while (p.nextToken() == JsonToken.FIELD_NAME) {
                                    String tok = p.currentName();
                                    p.nextToken();
                                    vocab.put(tok, p.getIntValue());
                                }
                            }
                            case "merges" -> {
                                expect(p, mv, JsonToken.START_ARRAY, file, "model.merges");
                                JsonToken e;
                                while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
                                    if (e == JsonToken.VALUE_STRING) {
                                        String s = p.getText();
                                        int sp = s.indexOf(' ');
                                        if (sp <= 0 || sp != s.lastIndexOf(' ')) {
                                            throw error(file, p, "merge '" + s + "' is not 'left right'");
                                        }
                                        merges.add(new String[] {s.substring(0, sp), s.substring(sp + 1)});
                                    } else if (e == JsonToken.START_ARRAY) {
                                        p.nextToken();
                                        String a = p.getText();
                                        p.nextToken();
                                        String b = p.getText();
                                        if (p.nextToken() != JsonToken.END_ARRAY) {
                                            throw error(file, p, "a merge pair with more than two tokens");
                                        }
                                        merges.add(new String[] {a, b});
                                    } else {
                                        throw error(file, p, "unexpected " + e + " in model.merges");
                                    }
                                }
                            }
                            default -> p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        }
        if (!"BPE".equals(modelType)) {
            throw new IOException("tokenizer.json " + file + ": model.type is " + modelType + ", only BPE is supported");
        }
        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : added.keySet()) {
            size = Math.max(size, id + 1);
        }
        byte[][] bytes = new byte[size][];
        String[] names = new String[size];
        added.forEach((id, name) -> names[id] = name);
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (id < 0) {
                throw new IOException("tokenizer.json " + file + ": negative id " + id + " for '" + e.getKey() + "'");
            }
            if (names[id] != null) {
                continue; // the special token also listed in the vocabulary
            }
            String s = e.getKey();
            byte[] b = new byte[s.length()];
            for (int i = 0; i < s.length(); i++) {
                Integer v = CHAR_TO_BYTE.get(s.charAt(i));
                if (v == null) {
                    throw new IOException("tokenizer.json " + file + ": token '" + s + "' (id " + id
                            + ") is not in the byte-level alphabet; only byte-level BPE is supported");
                }
                b[i] = (byte) (int) v;
            }
            bytes[id] = b;
        }
        int[] byteToId = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(BYTE_TO_CHAR[b]));
            if (id == null) {
                throw new IOException("tokenizer.json " + file + ": byte " + b + " has no token; not a byte-level BPE");
            }
            byteToId[b] = id;
        }
        int n = merges.size();
        int[] l = new int[n];
        int[] r = new int[n];
        int[] res = new int[n];
        for (int i = 0; i < n; i++) {
            String[] m = merges.get(i);
            Integer a = vocab.get(m[0]);
            Integer b = vocab.get(m[1]);
            Integer c = vocab.get(m[0] + m[1]);
            if (a == null || b == null || c == null) {
                throw new IOException("tokenizer.json " + file + ": merge " + i + " '" + m[0] + " " + m[1]
                        + "' uses a token missing from the vocabulary");
            }
            l[i] = a;
            r[i] = b;
            res[i] = c;
        }
        try {
            return new BpeTokenizer(byteToId, bytes, names, l, r, res);
        } catch (IllegalArgumentException e) {
            throw new IOException("tokenizer.json " + file + ": " + e.getMessage(), e);
        }
    }

    private static void expect(JsonParser p, JsonToken got, JsonToken want, Path file, String where) throws IOException {
        if (got != want) {
            throw error(file, p, where + " should start with " + want + " but has " + got);
        }
    }

    private static IOException error(Path file, JsonParser p, String what) {
        return new IOException("tokenizer.json " + file + " line " + p.currentLocation().getLineNr() + ": " + what);
    }
}
