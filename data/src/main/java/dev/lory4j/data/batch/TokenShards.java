package dev.lory4j.data.batch;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.lory4j.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Packed training rows on disk, as a distributed pipeline writes them and {@code lory4j train --data DIR} reads
 * them: a directory with
 * <ul>
 *   <li>{@code rows-NNNNN.i32}: rows of {@code rowTokens} token ids, little-endian int32, row after row;</li>
 *   <li>{@code tokenizer.json}: the tokenizer that made the ids;</li>
 *   <li>{@code shards.json}: the manifest (format, rowTokens, rows per shard file, free-form info), written last:
 *       a directory without it is not finished.</li>
 * </ul>
 * Every file is written to a temporary name and moved into place, so a crash never leaves a half-written shard
 * under its final name.
 */
public final class TokenShards {
    /** The manifest's file name. */
    public static final String MANIFEST = "shards.json";
    /** The tokenizer's file name. */
    public static final String TOKENIZER = "tokenizer.json";
    private static final String FORMAT = "lory4j-token-rows";
    private static final JsonFactory JSON = new JsonFactory();

    private TokenShards() {
    }

    /** One shard file and its row count. */
    public record Shard(String file, long rows) implements java.io.Serializable {
    }

    /**
     * What a shard directory holds.
     *
     * @param rowTokens tokens per row (a trainer's sequence length + 1)
     * @param shards    the shard files in row order
     * @param info      free-form facts about how the rows were made (documents, batching, ...)
     */
    public record Manifest(int rowTokens, List<Shard> shards, Map<String, String> info) {
        /** Rows in all shards. */
        public long rows() {
            return shards.stream().mapToLong(Shard::rows).sum();
        }
    }

    /** Whether {@code dir} is a finished shard directory (it holds a manifest). */
    public static boolean isShardDirectory(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(MANIFEST));
    }

    /** The file name of shard {@code index}. */
    public static String shardName(int index) {
        return String.format("rows-%05d.i32", index);
    }

    /**
     * Writes {@code tokens} (whole rows of {@code rowTokens}) as shard {@code index} of {@code dir}, atomically;
     * returns the shard's entry for the manifest.
     */
    public static Shard writeShard(Path dir, int index, int[] tokens, int rowTokens) throws IOException {
        if (rowTokens < 2 || tokens.length % rowTokens != 0) {
            throw new IllegalArgumentException("TokenShards.writeShard: " + tokens.length + " tokens are not whole rows "
                    + "of " + rowTokens);
        }
        Files.createDirectories(dir);
        String name = shardName(index);
        Path tmp = Files.createTempFile(dir, "." + name, ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (int t : tokens) {
                    if (!buf.hasRemaining()) {
                        out.write(buf.array(), 0, buf.position());
                        buf.clear();
                    }
                    buf.putInt(t);
                }
                out.write(buf.array(), 0, buf.position());
            }
            Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Shard(name, tokens.length / rowTokens);
    }

    /**
     * Writes the manifest and the tokenizer, after checking that every shard file exists with its size; the
     * directory counts as finished from here on.
     */
    public static void writeManifest(Path dir, Manifest m, Tokenizer tokenizer) throws IOException {
        for (Shard s : m.shards()) {
            checkShard(dir, s, m.rowTokens());
        }
        tokenizer.save(dir.resolve(TOKENIZER));
        Path tmp = Files.createTempFile(dir, "." + MANIFEST, ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp);
                 JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                g.useDefaultPrettyPrinter();
                g.writeStartObject();
                g.writeStringField("format", FORMAT);
                g.writeNumberField("version", 1);
                g.writeNumberField("row_tokens", m.rowTokens());
                g.writeNumberField("rows", m.rows());
                g.writeStringField("tokenizer", TOKENIZER);
                g.writeArrayFieldStart("shards");
                for (Shard s : m.shards()) {
                    g.writeStartObject();
                    g.writeStringField("file", s.file());
                    g.writeNumberField("rows", s.rows());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeObjectFieldStart("info");
                for (Map.Entry<String, String> e : m.info().entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
                g.writeEndObject();
            }
            Files.move(tmp, dir.resolve(MANIFEST), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Writes {@code packed} (one machine's packing) as a shard directory of at most {@code rowsPerShard} rows a file. */
    public static Manifest write(Path dir, PackedSequences packed, Tokenizer tokenizer, int rowsPerShard,
                                 Map<String, String> info) throws IOException {
        if (rowsPerShard < 1) {
            throw new IllegalArgumentException("TokenShards.write: rowsPerShard " + rowsPerShard + " must be positive");
        }
        int len = packed.seqLen();
        List<Shard> shards = new ArrayList<>();
        for (int r0 = 0, i = 0; r0 < packed.size(); r0 += rowsPerShard, i++) {
            int n = Math.min(rowsPerShard, packed.size() - r0);
            int[] tokens = new int[n * len];
            for (int r = 0; r < n; r++) {
                packed.copyTokens(r0 + r, tokens, r * len);
            }
            shards.add(writeShard(dir, i, tokens, len));
        }
        Manifest m = new Manifest(len, shards, new LinkedHashMap<>(info));
        writeManifest(dir, m, tokenizer);
        return m;
    }

    /** Reads and checks the manifest of {@code dir}. */
    public static Manifest manifest(Path dir) throws IOException {
        Path file = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) {
            throw new IOException(dir + " is not a finished shard directory: " + MANIFEST + " is missing");
        }
        String format = null;
        int rowTokens = -1;
        long rows = -1;
        List<Shard> shards = new ArrayList<>();
        Map<String, String> info = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(file.toFile())) {
            expect(p.nextToken() == JsonToken.START_OBJECT, file, "not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken v = p.nextToken();
                switch (key) {
                    case "format" -> format = p.getText();
                    case "row_tokens" -> rowTokens = p.getIntValue();
                    case "rows" -> rows = p.getLongValue();
                    case "shards" -> {
                        expect(v == JsonToken.START_ARRAY, file, "'shards' must be an array");
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            String name = null;
                            long n = -1;
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String k = p.currentName();
                                p.nextToken();
                                if (k.equals("file")) {
                                    name = p.getText();
                                } else if (k.equals("rows")) {
                                    n = p.getLongValue();
                                } else {
                                    p.skipChildren();
                                }
                            }
                            expect(name != null && !name.contains("/") && !name.contains("\\") && n >= 0, file,
                                    "a shard entry needs a plain 'file' name and 'rows' >= 0");
                            shards.add(new Shard(name, n));
                        }
                    }
                    case "info" -> {
                        expect(v == JsonToken.START_OBJECT, file, "'info' must be an object");
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String k = p.currentName();
                            p.nextToken();
                            info.put(k, p.getText());
                        }
                    }
                    default -> p.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(file + ": invalid JSON: " + e.getOriginalMessage(), e);
        }
        expect(FORMAT.equals(format), file, "'format' is " + format + ", expected " + FORMAT);
        expect(rowTokens >= 2, file, "'row_tokens' " + rowTokens + " must be at least 2");
        Manifest m = new Manifest(rowTokens, List.copyOf(shards), info);
        expect(rows == m.rows(), file, "'rows' " + rows + " differs from the shards' sum " + m.rows());
        return m;
    }

    /** The tokenizer saved with the rows. */
    public static Tokenizer tokenizer(Path dir) throws IOException {
        return Tokenizer.load(dir.resolve(TOKENIZER));
    }

    /** Reads every row of {@code dir} (checking each shard's size against the manifest). */
    public static PackedSequences read(Path dir) throws IOException {
        Manifest m = manifest(dir);
        long total = m.rows() * m.rowTokens();
        if (total > Integer.MAX_VALUE - 8) {
            throw new IOException(dir + ": " + m.rows() + " rows of " + m.rowTokens() + " tokens exceed one int[] "
                    + "(2^31 - 1); read fewer shards");
        }
        int[] tokens = new int[(int) total];
        int pos = 0;
        for (Shard s : m.shards()) {
            Path f = checkShard(dir, s, m.rowTokens());
            try (InputStream in = Files.newInputStream(f)) {
                byte[] chunk = new byte[1 << 16];
                ByteBuffer bb = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
                long left = s.rows() * m.rowTokens() * 4;
                while (left > 0) {
                    int n = in.readNBytes(chunk, 0, (int) Math.min(chunk.length, left));
                    if (n <= 0 || n % 4 != 0) {
                        throw new IOException(f + ": ended early (" + left + " bytes missing)");
                    }
                    bb.clear();
                    for (int i = 0; i < n; i += 4) {
                        int t = bb.getInt(i);
                        if (t < 0) {
                            throw new IOException(f + ": token id " + t + " at row " + (pos / m.rowTokens())
                                    + " is negative");
                        }
                        tokens[pos++] = t;
                    }
                    left -= n;
                }
            }
        }
        return PackedSequences.ofRows(m.rowTokens(), tokens);
    }

    private static Path checkShard(Path dir, Shard s, int rowTokens) throws IOException {
        Path f = dir.resolve(s.file());
        if (!Files.isRegularFile(f)) {
            throw new IOException(dir + ": shard " + s.file() + " is missing");
        }
        long want = s.rows() * rowTokens * 4;
        long got = Files.size(f);
        if (got != want) {
            throw new IOException(f + " holds " + got + " bytes; the manifest's " + s.rows() + " rows of " + rowTokens
                    + " tokens need " + want);
        }
        return f;
    }

    private static void expect(boolean ok, Path file, String what) throws IOException {
        if (!ok) {
            throw new IOException(file + ": " + what);
        }
    }
}
