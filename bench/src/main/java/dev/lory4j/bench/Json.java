package dev.lory4j.bench;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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

    private static void object(StringBuilder sb, Map<String, ?> row) {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, ?> e : row.entrySet()) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            string(sb, e.getKey());
            sb.append(':');
            value(sb, e.getValue());
        }
        sb.append('}');
    }

    private static void value(StringBuilder sb, Object v) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> string(sb, s);
            case Integer i -> sb.append(i);
            case Long l -> sb.append(l);
            case Boolean b -> sb.append(b);
            case Double d -> sb.append(number(d));
            case Float f -> sb.append(number(f));
            default -> throw new IllegalArgumentException("Json: unsupported value type "
                    + v.getClass().getName() + " (" + v + ")");
        }
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

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
