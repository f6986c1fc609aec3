package dev.lory4j.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Streams the documents of one JSONL file: one JSON object per line with a string {@code text} and optional
 * {@code id} (string or number), {@code domain} and {@code split}; other fields are ignored, blank lines are
 * counted. A malformed line (bad JSON, a missing or mistyped field, invalid UTF-8) either stops the pass with
 * a {@link CorpusFormatException} naming file and line, or is skipped and counted, as
 * {@link ReadOptions#onMalformed()} says. Lines are split on bytes and decoded one at a time, so the line
 * number of an encoding error is exact.
 */
final class JsonlReader implements Iterator<Document>, AutoCloseable {
    static final JsonFactory JSON = JsonFactory.builder().build();

    private final Path file;
    private final InputStream in;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private byte[] buf = new byte[1 << 16];
    private int bufPos;
    private int bufLen;
    private byte[] line = new byte[1 << 12];
    private final String defaultDomain;
    private final ReadOptions options;
    private final ReadReport report;
    private long lineNo;
    private Document next;
    private boolean done;

    JsonlReader(Path file, InputStream stream, String defaultDomain, ReadOptions options, ReadReport report) {
        this.file = file;
        this.in = stream;
        this.defaultDomain = defaultDomain;
        this.options = options;
        this.report = report;
    }

    @Override
    public boolean hasNext() {
        while (next == null && !done) {
            int len;
            try {
                len = readLine();
            } catch (IOException e) {
                throw new UncheckedIOException("JSONL " + file + ":" + (lineNo + 1) + ": read failed", e);
            }
            if (len < 0) {
                finish();
                break;
            }
            lineNo++;
            String line;
            try {
                line = utf8.decode(ByteBuffer.wrap(this.line, 0, len)).toString();
            } catch (CharacterCodingException e) {
                next = malformed(lineNo, "invalid UTF-8 (" + e + ")", e);
                continue;
            }
            if (line.isBlank()) {
                report.blank();
                continue;
            }
            next = parse(line);
        }
        return next != null;
    }

    /** Reads the next line's bytes (without the line end) into {@code line}; -1 at the end of input. */
    private int readLine() throws IOException {
        int n = 0;
        boolean any = false;
        while (true) {
            if (bufPos == bufLen) {
                bufLen = in.read(buf, 0, buf.length);
                bufPos = 0;
                if (bufLen <= 0) {
                    bufLen = 0;
                    return any ? stripCr(n) : -1;
                }
            }
            any = true;
            int start = bufPos;
            while (bufPos < bufLen && buf[bufPos] != '\n') {
                bufPos++;
            }
            int chunk = bufPos - start;
            if (n + chunk > line.length) {
                line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, n + chunk));
            }
            System.arraycopy(buf, start, line, n, chunk);
            n += chunk;
            if (bufPos < bufLen) {
                bufPos++; // the '\n'
                return stripCr(n);
            }
        }
    }

    private int stripCr(int n) {
        return n > 0 && line[n - 1] == '\r' ? n - 1 : n;
    }

    @Override
    public Document next() {
        if (!hasNext()) {
            throw new NoSuchElementException("JSONL " + file + ": no more documents");
        }
        Document d = next;
        next = null;
        return d;
    }

    private Document parse(String line) {
        String text = null;
        String id = null;
        String domain = null;
        String split = null;
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return malformed(lineNo, "expected a JSON object, found " + p.currentToken(), null);
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "text" -> {
                        if (v != JsonToken.VALUE_STRING) {
                            return malformed(lineNo, "field 'text' must be a string, found " + v, null);
                        }
                        text = p.getText();
                    }
                    case "id" -> {
                        if (v != JsonToken.VALUE_STRING && v != JsonToken.VALUE_NUMBER_INT) {
                            return malformed(lineNo, "field 'id' must be a string or integer, found " + v, null);
                        }
                        id = p.getText();
                    }
                    case "domain" -> {
                        if (v != JsonToken.VALUE_STRING) {
                            return malformed(lineNo, "field 'domain' must be a string, found " + v, null);
                        }
                        domain = p.getText();
                    }
                    case "split" -> {
                        if (v != JsonToken.VALUE_STRING) {
                            return malformed(lineNo, "field 'split' must be a string, found " + v, null);
                        }
                        split = p.getText();
                    }
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                return malformed(lineNo, "unexpected " + t + " in object", null);
            }
            JsonToken after = p.nextToken();
            if (after != null) {
                return malformed(lineNo, "unexpected " + after + " after the object (one object per line)", null);
            }
        } catch (IOException e) { // Jackson's parse errors are IOExceptions
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            return malformed(lineNo, "invalid JSON: " + msg, e);
        }
        if (text == null) {
            return malformed(lineNo, "missing field 'text'", null);
        }
        if (id == null) {
            id = file.getFileName() + ":" + lineNo;
        }
        Split s;
        if (split == null) {
            s = Split.byHash(id, options.heldoutFraction());
        } else {
            try {
                s = Split.parse(split);
            } catch (IllegalArgumentException e) {
                return malformed(lineNo, "field 'split' is '" + split + "' (expected train or heldout)", e);
            }
        }
        report.document(text.length());
        return new Document(id, domain == null || domain.isEmpty() ? defaultDomain : domain, text, s);
    }

    /** Throws or counts; returns null so a caller can {@code return malformed(...)} to skip the line. */
    private Document malformed(long line, String problem, Throwable cause) {
        if (options.onMalformed() == ReadOptions.OnMalformed.FAIL) {
            finish();
            throw new CorpusFormatException(file, line, problem, cause);
        }
        report.malformed(CorpusFormatException.location(file, line) + ": " + problem);
        return null;
    }

    private void finish() {
        done = true;
        close();
    }

    @Override
    public void close() {
        done = true;
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException("JSONL " + file + ": close failed", e);
        }
    }
}
