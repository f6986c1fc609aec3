package dev.lory4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

/**
 * One pass over a corpus directory, in sorted path order: each {@code .txt} (or {@code .txt.gz}) file is one
 * document whose id is its path relative to the root without the extension and whose domain is the first
 * folder under the root (the root's own name for files directly in it); each {@code .jsonl}
 * ({@code .jsonl.gz}) file is streamed by {@link JsonlReader} with the same folder rule for missing domains.
 * Other files are counted as malformed-and-skipped or fail, like a bad line, so none is ignored unseen.
 */
final class DirectoryPass implements Iterator<Document>, AutoCloseable {
    private final Path root;
    private final ReadOptions options;
    private final ReadReport report;
    private final Iterator<Path> files;
    private JsonlReader current;
    private Document next;

    DirectoryPass(Path root, ReadOptions options, ReadReport report) {
        this.root = root;
        this.options = options;
        this.report = report;
        try (Stream<Path> walk = Files.walk(root)) {
            List<Path> list = walk.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList();
            this.files = list.iterator();
        } catch (IOException e) {
            throw new UncheckedIOException("Corpus.open: cannot list " + root, e);
        }
    }

    private String domainOf(Path file) {
        Path rel = root.relativize(file);
        if (rel.getNameCount() > 1) {
            return rel.getName(0).toString();
        }
        Path name = root.toAbsolutePath().normalize().getFileName();
        return name == null ? options.defaultDomain() : name.toString();
    }

    @Override
    public boolean hasNext() {
        while (next == null) {
            if (current != null) {
                if (current.hasNext()) {
                    next = current.next();
                    break;
                }
                current = null;
            }
            if (!files.hasNext()) {
                return false;
            }
            Path f = files.next();
            String n = f.getFileName().toString();
            if (n.endsWith(".jsonl") || n.endsWith(".jsonl.gz")) {
                report.file();
                current = new JsonlReader(f, Corpus.openStream(f), domainOf(f), options, report);
            } else if (n.endsWith(".txt") || n.endsWith(".txt.gz")) {
                report.file();
                next = readText(f);
            } else {
                problem(f, "not a corpus file (expected .txt, .txt.gz, .jsonl or .jsonl.gz)", null);
            }
        }
        return true;
    }

    private Document readText(Path f) {
        byte[] bytes;
        try (InputStream in = Corpus.openStream(f)) {
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("Corpus: cannot read " + f, e);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return problem(f, "invalid UTF-8 (" + e.getMessage() + ")", e);
        }
        String rel = root.relativize(f).toString().replace('\\', '/');
        String id = rel.substring(0, rel.length() - (rel.endsWith(".gz") ? 7 : 4));
        report.document(text.length());
        return new Document(id, domainOf(f), text, Split.byHash(id, options.heldoutFraction()));
    }

    private Document problem(Path f, String what, Throwable cause) {
        if (options.onMalformed() == ReadOptions.OnMalformed.FAIL) {
            throw new CorpusFormatException(f, 0, what, cause);
        }
        report.malformed(f + ": " + what);
        return null;
    }

    @Override
    public Document next() {
        if (!hasNext()) {
            throw new NoSuchElementException("Corpus " + root + ": no more documents");
        }
        Document d = next;
        next = null;
        return d;
    }

    @Override
    public void close() {
        if (current != null) {
            current.close();
            current = null;
        }
    }
}
