package dev.lory4j.autograd.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Small JSON values for configs, metadata and reports: objects become insertion-ordered {@code Map}s, arrays
 * {@code List}s, numbers {@code Long} or {@code Double}, plus {@code String}, {@code Boolean} and null.
 * Built on Jackson's streaming parser, which is strict and well fuzzed.
 */
public final class Json {
    private Json() {}

    private static final JsonFactory FACTORY = new JsonFactory();

    /** Parses a JSON object; {@code what} names the source in the error message. */
    public static Map<String, Object> parseObject(String text, String what) {
        try (JsonParser p = FACTORY.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(what + ": expected a JSON object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) value(p);
            if (p.nextToken() != null) {
                throw new IllegalArgumentException(what + ": trailing content after the JSON object");
            }
            return m;
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    private static Object value(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    m.put(k, value(p));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    l.add(value(p));
                }
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                return p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return p.getBooleanValue();
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new IOException("unexpected token " + t);
        }
    }

    /** Writes a value (maps, lists, strings, numbers, booleans, null) as compact JSON. */
    public static String write(Object value) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(w)) {
            write(g, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    private static void write(JsonGenerator g, Object v) throws IOException {
        switch (v) {
            case null -> g.writeNull();
            case Map<?, ?> m -> {
                g.writeStartObject();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    g.writeFieldName(String.valueOf(e.getKey()));
                    write(g, e.getValue());
                }
                g.writeEndObject();
            }
            case List<?> l -> {
                g.writeStartArray();
                for (Object o : l) {
                    write(g, o);
                }
                g.writeEndArray();
            }
            case String s -> g.writeString(s);
            case Boolean b -> g.writeBoolean(b);
            case Integer i -> g.writeNumber(i);
            case Long l -> g.writeNumber(l);
            case Float f -> g.writeNumber(f);
            case Double d -> g.writeNumber(d);
            case int[] a -> {
                g.writeStartArray();
                for (int x : a) {
                    g.writeNumber(x);
                }
                g.writeEndArray();
            }
            default -> throw new IllegalArgumentException("Json.write: unsupported value of type "
                    + v.getClass().getName());
        }
    }
}
