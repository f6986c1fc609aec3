package dev.lory4j.autograd.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates a whole safetensors image held in a {@link MemorySegment} (a mapped file or a heap
 * array) and converts every tensor to float32.
 *
 * <p>Everything is checked before any tensor data is touched, so a bad input never yields a partial result:
 * the header length, the header's UTF-8 and JSON, each entry's fields and types, the dtype, the shape, the byte
 * count against shape and dtype, and that the entries' byte ranges, sorted by offset, tile the data section
 * exactly (no overlap, no gap, no trailing bytes). Tensor data is converted in bulk: float32 straight from the
 * segment with {@link MemorySegment#copy(MemorySegment, ValueLayout.OfFloat, long, float[], int, int)} (a
 * little-endian layout, so the JDK does any byte swapping), other dtypes chunk by chunk through a primitive
 * buffer.
 *
 * <p>JSON: Jackson's streaming parser (jackson-core only). It is strict by default (no comments, no single
 * quotes, no NaN literals, no leading zeros), limits nesting depth, reports positions, and lets us check each
 * token's type ourselves so that every mistake gets a message naming the tensor and the field; a parser of our
 * own would have to get the same corner cases (escapes, surrogates, number syntax) right and be fuzzed for it.
 */
final class SafetensorsReader {
    /** The safetensors reference implementation refuses headers above 100 MB; so do we. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The largest float[] a JVM reliably allocates. */
    static final int MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    /** Integers above this in magnitude may not be exact in float32. */
    static final long MAX_EXACT_INT = 1L << 24;

    private static final String METADATA_KEY = "__metadata__";
    private static final int CHUNK = 1 << 14;

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength((int) MAX_HEADER_BYTES)
                    .maxNameLength((int) MAX_HEADER_BYTES)
                    .maxNestingDepth(64)
                    .build())
            .build();

    private SafetensorsReader() {}

    /** One header entry, after parsing (types checked) and before validation against the data section. */
    private record Entry(String name, String dtypeName, long[] shape, long begin, long end) {}

    /** A validated entry. */
    private record Checked(String name, Dtype dtype, int[] shape, int numel, long begin, long end) {}

    /** Reads the whole image {@code image}; {@code source} names it in errors. */
    static SafetensorsFile read(MemorySegment image, String source) throws SafetensorsException {
        long size = image.byteSize();
        if (size < 8) {
            throw new SafetensorsException(source, "the input is " + size
                    + " bytes, shorter than the 8-byte header length that starts every safetensors file");
        }
        long n = image.get(I64_LE, 0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new SafetensorsException(source, "header length " + Long.toUnsignedString(n)
                    + " bytes is absurd (the limit is " + MAX_HEADER_BYTES + " bytes); not a safetensors file?");
        }
        if (n > size - 8) {
            throw new SafetensorsException(source, "header length " + n + " bytes runs past the end of the input ("
                    + size + " bytes, so at most " + (size - 8) + " header bytes)");
        }
        byte[] headerBytes = image.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(source, "header is not valid UTF-8 (" + e.getMessage() + ")", e);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = parseHeader(json, source, metadata);

        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        List<Checked> checked = validate(entries, dataLength, source);

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Checked c : checked) {
            float[] values = convert(image, dataStart + c.begin(), c, source);
            tensors.put(c.name(), Tensor.wrap(values, c.shape()));
        }
        return new SafetensorsFile(tensors, metadata, source);
    }

    // ---------------------------------------------------------------- header JSON

    private static List<Entry> parseHeader(String json, String source, Map<String, String> metadata)
            throws SafetensorsException {
        List<Entry> entries = new ArrayList<>();
        try (JsonParser p = JSON.createParser(json)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new SafetensorsException(source, "header is not a JSON object (it holds " + describe(t) + ")");
            }
            Map<String, Boolean> seen = new LinkedHashMap<>();
            boolean sawMetadata = false;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                if (key.equals(METADATA_KEY)) {
                    if (sawMetadata) {
                        throw new SafetensorsException(source, "header has \"__metadata__\" twice");
                    }
                    sawMetadata = true;
                    parseMetadata(p, source, metadata);
                } else {
                    if (seen.put(key, Boolean.TRUE) != null) {
                        throw new SafetensorsException(source, "duplicate tensor name " + Safetensors.quote(key)
                                + " in the header");
                    }
                    entries.add(parseEntry(p, key, source));
                }
            }
            if (t != JsonToken.END_OBJECT) { // Jackson reports malformed JSON itself; this is a safety net.
                throw new SafetensorsException(source, "header is not valid JSON (unexpected " + describe(t) + ")");
            }
            if (p.nextToken() != null) {
                throw new SafetensorsException(source, "header has more JSON after its object");
            }
        } catch (SafetensorsException e) {
            throw e;
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(source, "header is not valid JSON: " + e.getOriginalMessage()
                    + location(e), e);
        } catch (IOException e) { // parsing a String does no I/O; keep the contract anyway
            throw new SafetensorsException(source, "header could not be parsed: " + e.getMessage(), e);
        }
        return entries;
    }

    private static void parseMetadata(JsonParser p, String source, Map<String, String> metadata) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return; // the reference implementation treats null as "no metadata"
        }
        if (t != JsonToken.START_OBJECT) {
            throw new SafetensorsException(source, "\"__metadata__\" must be an object of string to string, found "
                    + describe(t));
        }
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            t = p.nextToken();
            if (t != JsonToken.VALUE_STRING) {
                throw new SafetensorsException(source, "\"__metadata__\" must map strings to strings, but key "
                        + Safetensors.quote(key) + " holds " + describe(t));
            }
            if (metadata.put(key, p.getText()) != null) {
                throw new SafetensorsException(source, "\"__metadata__\" has key " + Safetensors.quote(key) + " twice");
            }
        }
    }

    private static Entry parseEntry(JsonParser p, String name, String source) throws IOException {
        String where = "tensor " + Safetensors.quote(name);
        JsonToken t = p.currentToken();
        if (t != JsonToken.START_OBJECT) {
            throw new SafetensorsException(source, where + ": entry must be an object with dtype, shape and "
                    + "data_offsets, found " + describe(t));
        }
        String dtype = null;
        long[] shape = null;
        long[] offsets = null;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            t = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (dtype != null) {
                        throw new SafetensorsException(source, where + ": \"dtype\" given twice");
                    }
                    if (t != JsonToken.VALUE_STRING) {
                        throw new SafetensorsException(source, where + ": \"dtype\" must be a string, found "
                                + describe(t));
                    }
                    dtype = p.getText();
                }
                case "shape" -> {
                    if (shape != null) {
                        throw new SafetensorsException(source, where + ": \"shape\" given twice");
                    }
                    shape = intArray(p, where, "shape", source);
                }
                case "data_offsets" -> {
                    if (offsets != null) {
                        throw new SafetensorsException(source, where + ": \"data_offsets\" given twice");
                    }
                    offsets = intArray(p, where, "data_offsets", source);
                    if (offsets.length != 2) {
                        throw new SafetensorsException(source, where + ": \"data_offsets\" must be [begin, end], "
                                + "found " + offsets.length + " numbers");
                    }
                }
                default -> p.skipChildren(); // unknown fields are ignored, as by the reference reader
            }
        }
        if (dtype == null || shape == null || offsets == null) {
            String missing = dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets";
            throw new SafetensorsException(source, where + ": entry has no \"" + missing + "\"");
        }
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /** A JSON array of non-negative integers that fit a long. */
    private static long[] intArray(JsonParser p, String where, String field, String source) throws IOException {
        JsonToken t = p.currentToken();
        if (t != JsonToken.START_ARRAY) {
            throw new SafetensorsException(source, where + ": \"" + field + "\" must be an array of non-negative "
                    + "integers, found " + describe(t));
        }
        long[] out = new long[4];
        int n = 0;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new SafetensorsException(source, where + ": \"" + field + "\" must hold non-negative "
                        + "integers, found " + describe(t) + (t == JsonToken.VALUE_NUMBER_FLOAT ? " " + p.getText() : ""));
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                throw new SafetensorsException(source, where + ": \"" + field + "\" holds " + abbreviate(p.getText())
                        + (p.getText().startsWith("-") ? ", a negative number" : ", a number too large for 64 bits"));
            }
            if (n == out.length) {
                if (n >= 64) {
                    throw new SafetensorsException(source, where + ": \"" + field + "\" has more than 64 entries");
                }
                out = java.util.Arrays.copyOf(out, n * 2);
            }
            out[n++] = p.getLongValue();
        }
        return java.util.Arrays.copyOf(out, n);
    }

    // ---------------------------------------------------------------- validation

    private static List<Checked> validate(List<Entry> entries, long dataLength, String source)
            throws SafetensorsException {
        List<Checked> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            String where = "tensor " + Safetensors.quote(e.name());
            Dtype dtype = Dtype.byName(e.dtypeName());
            if (dtype == null) {
                throw new SafetensorsException(source, where + ": unknown dtype " + Safetensors.quote(e.dtypeName())
                        + " (readable: " + Dtype.supportedNames() + ")");
            }
            if (!dtype.supported()) {
                throw new SafetensorsException(source, where + ": dtype " + dtype + " is not supported (readable: "
                        + Dtype.supportedNames() + ")");
            }
            long[] s = e.shape();
            int[] shape = new int[s.length];
            boolean empty = false;
            for (int d = 0; d < s.length; d++) {
                if (s[d] > Integer.MAX_VALUE) {
                    throw new SafetensorsException(source, where + ": shape " + java.util.Arrays.toString(s)
                            .replace(" ", "") + " has dimension " + s[d] + ", above 2^31-1");
                }
                shape[d] = (int) s[d];
                empty |= s[d] == 0;
            }
            long numel = 1;
            if (empty) {
                numel = 0;
            } else {
                for (int d : shape) {
                    if (numel > MAX_ELEMENTS / d) {
                        throw new SafetensorsException(source, where + ": shape " + Shapes.str(shape)
                                + " has more than " + MAX_ELEMENTS + " elements");
                    }
                    numel *= d;
                }
            }
            if (e.begin() > e.end()) {
                throw new SafetensorsException(source, where + ": data_offsets [" + e.begin() + "," + e.end()
                        + "] end before they begin");
            }
            long bytes = numel * dtype.size;
            long span = e.end() - e.begin();
            if (span != bytes) {
                throw new SafetensorsException(source, where + ": shape " + Shapes.str(shape) + " with dtype " + dtype
                        + " needs " + bytes + " bytes but data_offsets [" + e.begin() + "," + e.end() + "] span "
                        + span);
            }
            if (e.end() > dataLength) {
                throw new SafetensorsException(source, where + ": data_offsets [" + e.begin() + "," + e.end()
                        + "] run past the end of the data section (" + dataLength + " bytes)");
            }
            out.add(new Checked(e.name(), dtype, shape, (int) numel, e.begin(), e.end()));
        }
        // The byte ranges, in offset order, must tile [0, dataLength) exactly.
        List<Checked> byOffset = new ArrayList<>(out);
        byOffset.sort(Comparator.comparingLong(Checked::begin).thenComparingLong(Checked::end));
        long expected = 0;
        Checked previous = null;
        for (Checked c : byOffset) {
            if (c.begin() < expected) {
                throw new SafetensorsException(source, "tensors " + Safetensors.quote(previous.name()) + " (bytes ["
                        + previous.begin() + "," + previous.end() + "]) and " + Safetensors.quote(c.name())
                        + " (bytes [" + c.begin() + "," + c.end() + "]) overlap");
            }
            if (c.begin() > expected) {
                throw new SafetensorsException(source, "gap in the data section: bytes [" + expected + ","
                        + c.begin() + "] before tensor " + Safetensors.quote(c.name()) + " belong to no tensor");
            }
            expected = c.end();
            previous = c;
        }
        if (expected != dataLength) {
            throw new SafetensorsException(source, "the data section has " + (dataLength - expected)
                    + " trailing bytes after the last tensor (tensors cover " + expected + " of " + dataLength
                    + " bytes)");
        }
        return out;
    }

    // ---------------------------------------------------------------- conversion

    private static float[] convert(MemorySegment image, long at, Checked c, String source)
            throws SafetensorsException {
        int n = c.numel();
        float[] out = new float[n];
        switch (c.dtype()) {
            case F32 -> MemorySegment.copy(image, F32_LE, at, out, 0, n);
            case F16, BF16 -> {
                short[] buf = new short[Math.min(n, CHUNK)];
                boolean bf = c.dtype() == Dtype.BF16;
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, I16_LE, at + 2L * i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        out[i + j] = bf ? Float.intBitsToFloat((buf[j] & 0xffff) << 16) : Float.float16ToFloat(buf[j]);
                    }
                }
            }
            case F64 -> { // narrowed to the nearest float32 (round to nearest even), like torch's .float()
                double[] buf = new double[Math.min(n, CHUNK)];
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, F64_LE, at + 8L * i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        out[i + j] = (float) buf[j];
                    }
                }
            }
            case I64, U64 -> {
                long[] buf = new long[Math.min(n, CHUNK)];
                boolean unsigned = c.dtype() == Dtype.U64;
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, I64_LE, at + 8L * i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        long v = buf[j];
                        if ((unsigned && v < 0) || v > MAX_EXACT_INT || v < -MAX_EXACT_INT) {
                            throw inexact(source, c, i + j, unsigned ? Long.toUnsignedString(v) : Long.toString(v));
                        }
                        out[i + j] = v;
                    }
                }
            }
            case I32, U32 -> {
                int[] buf = new int[Math.min(n, CHUNK)];
                boolean unsigned = c.dtype() == Dtype.U32;
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, I32_LE, at + 4L * i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        long v = unsigned ? Integer.toUnsignedLong(buf[j]) : buf[j];
                        if (v > MAX_EXACT_INT || v < -MAX_EXACT_INT) {
                            throw inexact(source, c, i + j, Long.toString(v));
                        }
                        out[i + j] = v;
                    }
                }
            }
            case I16, U16 -> {
                short[] buf = new short[Math.min(n, CHUNK)];
                boolean unsigned = c.dtype() == Dtype.U16;
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, I16_LE, at + 2L * i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        out[i + j] = unsigned ? (buf[j] & 0xffff) : buf[j];
                    }
                }
            }
            case I8, U8, BOOL -> {
                byte[] buf = new byte[Math.min(n, CHUNK)];
                for (int i = 0; i < n; i += CHUNK) {
                    int m = Math.min(CHUNK, n - i);
                    MemorySegment.copy(image, ValueLayout.JAVA_BYTE, at + i, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        out[i + j] = switch (c.dtype()) {
                            case I8 -> buf[j];
                            case U8 -> buf[j] & 0xff;
                            default -> buf[j] != 0 ? 1f : 0f; // BOOL: any non-zero byte is true
                        };
                    }
                }
            }
            default -> throw new SafetensorsException(source, "tensor " + Safetensors.quote(c.name()) + ": dtype "
                    + c.dtype() + " is not supported"); // unreachable: validate() refused it
        }
        return out;
    }

    private static SafetensorsException inexact(String source, Checked c, long index, String value) {
        return new SafetensorsException(source, "tensor " + Safetensors.quote(c.name()) + ": " + c.dtype()
                + " element " + index + " is " + value + ", beyond 2^24 = " + MAX_EXACT_INT
                + " in magnitude, so float32 cannot hold it exactly");
    }

    // ---------------------------------------------------------------- message helpers

    private static String describe(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.asString() == null ? t.name() : "'" + t.asString() + "'";
        };
    }

    private static String location(JsonProcessingException e) {
        var loc = e.getLocation();
        return loc == null || loc.getCharOffset() < 0 ? "" : " (at character " + loc.getCharOffset() + ")";
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 20) + "..." + s.substring(s.length() - 10) + " (" + s.length()
                + " digits)";
    }
}
