package dev.lory4j.bench;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;

/**
 * The little JSON the benchmark CLI writes: an array of flat objects whose values are strings, integers or
 * doubles. Doubles are rounded to four decimals (trailing zeros dropped); NaN and infinities become null.
 */
public final class Json {
    private Json() {}

    /** Renders rows as {@code [{"k":v,...},...]} on one line per row, keys in map iteration order. */
    public static String array(List<? extends Map<String, ?>> rows) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(rows.size() > 1 ? "\n" : "");
            object(sb, rows.get(i));
        }
        sb.append(rows.size() > 1 ? "\n]" : "]");
        return sb.toString();
    }

    /** Writes {@link #array} plus a newline to {@code file} atomically (temp file, then rename). */
    public static void write(Path file, List<? extends Map<String, ?>> rows) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Path tmp = Files.createTempFile(dir, abs.getFileName().toString(), ".tmp");
        try {
            Files.writeString(tmp, array(rows) + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static final JsonFactory FACTORY = JsonFactory.builder().build();

    /** One row as a compact JSON object, written by Jackson (keys and strings escaped by it). */
    private static void object(StringBuilder sb, Map<String, ?> row) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(w)) {
            g.writeStartObject();
            for (Map.Entry<String, ?> e : row.entrySet()) {
                g.writeFieldName(e.getKey());
                switch (e.getValue()) {
                    case null -> g.writeNull();
                    case String str -> g.writeString(str);
                    case Integer n -> g.writeNumber(n);
                    case Long n -> g.writeNumber(n);
                    case Boolean b -> g.writeBoolean(b);
                    case Double d -> g.writeNumber(number(d));
                    case Float f -> g.writeNumber(number(f));
                    default -> throw new IllegalArgumentException("Json: unsupported value type "
                            + e.getValue().getClass().getName() + " (" + e.getValue() + ")");
                }
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        sb.append(w);
    }

    /** A double rounded to four decimals in plain notation, or {@code null} when not finite. */
    static String number(double d) {
        if (!Double.isFinite(d)) {
            return "null";
        }
        BigDecimal b = BigDecimal.valueOf(d).setScale(4, RoundingMode.HALF_EVEN).stripTrailingZeros();
        if (b.signum() == 0) {
            return "0";
        }
        return b.toPlainString();
    }
}
