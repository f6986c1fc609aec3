package dev.lory4j.autograd.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.lory4j.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reading and writing safetensors files (the Hugging Face format: an 8-byte little-endian header length, a
 * UTF-8 JSON header padded with spaces to a multiple of 8 bytes, then the little-endian row-major data).
 *
 * <p><b>Layout we write</b> (the same as the reference {@code safetensors} writer, so files are byte-identical
 * for the same tensors): tensors ordered by descending dtype alignment (I64 before F32), then by name (UTF-8
 * byte order); their data back to back from offset 0 without gaps or padding; the header JSON compact, with
 * {@code __metadata__} first (left out when there is no metadata) and the entries in data order, each as
 * {@code {"dtype":..,"shape":[..],"data_offsets":[begin,end]}}.
 *
 * <p><b>Reading</b> accepts entries in any header order as long as their byte ranges, sorted by offset, tile the
 * data section exactly; see {@link #read(Path)} for what is checked and converted.
 */
public final class Safetensors {
    private static final JsonFactory JSON = new JsonFactory();
    private static final int WRITE_CHUNK = 1 << 16; // elements per conversion buffer

    /** Test hook: called once the temporary file holds the header (and nothing else yet); may throw. */
    interface WriteHook {
        void afterHeader(Path temporaryFile) throws IOException;
    }

    /** Set only by tests in this package, to simulate a failure half-way through a write. */
    static volatile WriteHook writeHook;

    private Safetensors() {}

    // ---------------------------------------------------------------- writing

    /** Writes {@code tensors} as F32 plus string {@code metadata}, atomically (temp file, fsync, rename). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, Set.of(), metadata);
    }

    /**
     * Writes {@code tensors} as F32, those named in {@code writeAsI64} as I64 (their values must be integers),
     * plus string {@code metadata}, atomically: a temporary file in the same directory is written, forced to
     * disk and renamed over {@code file}; on any error the temporary file is removed and a previous {@code file}
     * is left untouched. Inputs are checked (with {@link IllegalArgumentException}s naming the tensor) before
     * anything is written.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Set<String> writeAsI64,
            Map<String, String> metadata) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("Safetensors.write: file must not be null");
        }
        List<Item> items = plan(tensors, writeAsI64, metadata);
        byte[] header = header(items, metadata);

        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        String base = target.getFileName().toString();
        if (base.length() > 200) { // keep the temporary name within common file-name limits
            base = base.substring(0, 200);
        }
        Path tmp = dir.resolve("." + base + "." + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                + ".tmp");
        boolean done = false;
        try {
            // CREATE_NEW with default permissions (umask), unlike Files.createTempFile's owner-only 0600.
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buf = buffer(header);
                writeHeader(ch, buf, header);
                WriteHook hook = writeHook;
                if (hook != null) {
                    hook.afterHeader(tmp);
                }
                for (Item it : items) {
                    writeData(ch, buf, it);
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException | UncheckedIOException suppressed) {
                    // the original failure is the one worth reporting
                }
            }
        }
        fsyncDirectory(dir);
    }

    /** The exact bytes {@link #write} would put in a file (for tests and the fuzz target's round trip). */
    static byte[] toBytes(Map<String, Tensor> tensors, Set<String> writeAsI64, Map<String, String> metadata)
            throws IOException {
        List<Item> items = plan(tensors, writeAsI64, metadata);
        byte[] header = header(items, metadata);
        long total = 8L + header.length + (items.isEmpty() ? 0 : items.getLast().end());
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Safetensors.toBytes: " + total + " bytes do not fit an array");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) total);
        WritableByteChannel ch = Channels.newChannel(out);
        ByteBuffer buf = buffer(header);
        writeHeader(ch, buf, header);
        for (Item it : items) {
            writeData(ch, buf, it);
        }
        return out.toByteArray();
    }

    private static ByteBuffer buffer(byte[] header) {
        return ByteBuffer.allocate(Math.max(8 + header.length, 8 * WRITE_CHUNK)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void writeHeader(WritableByteChannel ch, ByteBuffer buf, byte[] header) throws IOException {
        buf.clear();
        buf.putLong(header.length).put(header).flip();
        writeFully(ch, buf);
    }

    /** One tensor to write: its name, whether as I64, its contiguous values, and its byte range. */
    private record Item(String name, boolean i64, int[] shape, float[] data, int offset, int numel, long begin,
            long end) {}

    private static List<Item> plan(Map<String, Tensor> tensors, Set<String> writeAsI64,
            Map<String, String> metadata) {
        if (tensors == null) {
            throw new IllegalArgumentException("Safetensors.write: tensors must not be null");
        }
        Set<String> asI64 = writeAsI64 == null ? Set.of() : writeAsI64;
        Map<String, String> meta = metadata == null ? Map.of() : metadata;
        for (String name : asI64) {
            if (name == null || !tensors.containsKey(name)) {
                throw new IllegalArgumentException("Safetensors.write: writeAsI64 names " + quote(name)
                        + ", which is not among the tensors");
            }
        }
        for (Map.Entry<String, String> e : meta.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new IllegalArgumentException("Safetensors.write: metadata key " + quote(e.getKey())
                        + " has a null key or value");
            }
            checkEncodable("metadata key", e.getKey());
            checkEncodable("metadata value of " + quote(e.getKey()), e.getValue());
        }
        List<String> names = new ArrayList<>(tensors.keySet());
        for (String name : names) {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("Safetensors.write: tensor names must be non-empty, found "
                        + quote(name));
            }
            if (name.equals("__metadata__")) {
                throw new IllegalArgumentException("Safetensors.write: \"__metadata__\" is reserved for metadata and "
                        + "cannot name a tensor");
            }
            checkEncodable("tensor name", name);
            if (tensors.get(name) == null) {
                throw new IllegalArgumentException("Safetensors.write: tensor " + quote(name) + " is null");
            }
        }
        // Descending alignment (I64 before F32), then UTF-8 byte order of the name: as the reference writer.
        Comparator<String> utf8 = (a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8),
                b.getBytes(StandardCharsets.UTF_8));
        names.sort(Comparator.comparing((String n) -> !asI64.contains(n)).thenComparing(utf8));
        List<Item> items = new ArrayList<>(names.size());
        long offset = 0;
        for (String name : names) {
            Tensor t = tensors.get(name).contiguous();
            boolean i64 = asI64.contains(name);
            int numel = t.numel();
            float[] data = t.data();
            int start = t.offset();
            if (i64) {
                for (int i = 0; i < numel; i++) {
                    float v = data[start + i];
                    if (!Float.isFinite(v) || v != Math.rint(v) || Math.abs(v) >= 0x1p63f) {
                        throw new IllegalArgumentException("Safetensors.write: tensor " + quote(name)
                                + " is to be written as I64 but element " + i + " is " + v + ", not an integer"
                                + (Float.isFinite(v) && v == Math.rint(v) ? " that fits 64 bits" : ""));
                    }
                }
            }
            long bytes = (long) numel * (i64 ? 8 : 4);
            items.add(new Item(name, i64, t.shape(), data, start, numel, offset, offset + bytes));
            offset += bytes;
        }
        return items;
    }

    private static void checkEncodable(String what, String s) {
        if (!StandardCharsets.UTF_8.newEncoder().canEncode(s)) {
            throw new IllegalArgumentException("Safetensors.write: " + what + " " + quote(s)
                    + " is not valid Unicode (it has an unpaired surrogate)");
        }
    }

    private static byte[] header(List<Item> items, Map<String, String> metadata) throws IOException {
        Map<String, String> meta = metadata == null ? Map.of() : metadata;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            if (!meta.isEmpty()) {
                g.writeObjectFieldStart("__metadata__");
                for (Map.Entry<String, String> e : meta.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            for (Item it : items) {
                g.writeObjectFieldStart(it.name());
                g.writeStringField("dtype", it.i64() ? "I64" : "F32");
                g.writeArrayFieldStart("shape");
                for (int d : it.shape()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(it.begin());
                g.writeNumber(it.end());
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndObject();
        }
        int pad = (8 - out.size() % 8) % 8;
        for (int i = 0; i < pad; i++) {
            out.write(' ');
        }
        return out.toByteArray();
    }

    private static void writeData(WritableByteChannel ch, ByteBuffer buf, Item it) throws IOException {
        float[] data = it.data();
        for (int i = 0; i < it.numel(); i += WRITE_CHUNK) {
            int m = Math.min(WRITE_CHUNK, it.numel() - i);
            buf.clear();
            if (it.i64()) {
                for (int j = 0; j < m; j++) {
                    buf.putLong((long) data[it.offset() + i + j]);
                }
            } else {
                buf.asFloatBuffer().put(data, it.offset() + i, m);
                buf.position(4 * m);
            }
            buf.flip();
            writeFully(ch, buf);
        }
    }

    private static void writeFully(WritableByteChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /** Makes the rename durable; file systems that cannot open or sync a directory are left as they are. */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // e.g. Windows cannot open a directory; the rename itself is still atomic
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * Reads all tensors and the metadata of {@code file}: F32, F16, BF16 and F64 are converted to float32, the
     * integer dtypes (I64, I32, ..., U8, BOOL) exactly, with an error for any value beyond 2^24 in magnitude. The
     * file is memory-mapped and converted in bulk; a malformed file gives a {@link SafetensorsException} naming
     * the file and the problem, never a partial result.
     */
    public static SafetensorsFile read(Path file) throws IOException {
        String source = file.toString();
        if (java.nio.file.Files.isDirectory(file)) {
            throw new SafetensorsException(source, "is a directory, not a safetensors file");
        }
        if (!java.nio.file.Files.exists(file)) {
            throw new java.nio.file.NoSuchFileException(source, null, "no such file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            long size = ch.size();
            MemorySegment image = size < 8
                    ? MemorySegment.ofArray(readSmall(ch, (int) size))
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return SafetensorsReader.read(image, source);
        }
    }

    private static byte[] readSmall(FileChannel ch, int size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(size);
        while (b.hasRemaining() && ch.read(b) >= 0) {
            // keep reading
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    /** Reads a whole safetensors image from {@code bytes}; {@code sourceName} names it in error messages. */
    public static SafetensorsFile read(byte[] bytes, String sourceName) throws SafetensorsException {
        String source = sourceName == null ? "<bytes>" : sourceName;
        if (bytes == null) {
            throw new SafetensorsException(source, "no bytes (null)");
        }
        return SafetensorsReader.read(MemorySegment.ofArray(bytes), source);
    }

    // ---------------------------------------------------------------- helpers

    /** A name in single quotes for messages, with control characters escaped and very long names shortened. */
    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("'");
        int limit = Math.min(s.length(), 120);
        for (int i = 0; i < limit; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (s.length() > limit) {
            b.append("...(").append(s.length()).append(" chars)");
        }
        return b.append('\'').toString();
    }
}
