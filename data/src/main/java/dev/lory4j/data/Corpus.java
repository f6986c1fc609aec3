package dev.lory4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A collection of documents that is read lazily: each {@link #stream()} or {@link #iterator()} makes a fresh
 * streaming pass over its files (one document in memory at a time), so a corpus of any size can be read.
 *
 * <p>Sources: a JSONL file ({@code .jsonl}, one object per line with {@code text} and optional {@code id},
 * {@code domain}, {@code split}), a directory (recursively: {@code .txt} files are one document each with
 * the domain = the name of the first folder under the root, and JSONL files found there), or the corpus
 * bundled with lory4j ({@link #bundled()}). Gzip is recognised by its magic bytes, whatever the file name.
 * Each pass fills a {@link ReadReport}; {@link #lastReport()} returns the report of the latest pass.
 */
public final class Corpus implements Iterable<Document> {
    /**
     * Class-path location of the bundled corpus, in the artifact {@code dev.lory4j:lory4j-corpus} (see NOTICE and
     * scripts/assemble-corpus.sh).
     */
    public static final String BUNDLED_RESOURCE = "lory4j-corpus/corpus.jsonl.gz";

    private final String name;
    private final PassFactory passes;
    private final Predicate<Document> filter;
    private volatile ReadReport lastReport = new ReadReport();

    @FunctionalInterface
    private interface PassFactory {
        Iterator<Document> open(ReadReport report);
    }

    private Corpus(String name, PassFactory passes, Predicate<Document> filter) {
        this.name = name;
        this.passes = passes;
        this.filter = filter;
    }

    /**
     * The multi-domain English corpus of the artifact {@code dev.lory4j:lory4j-corpus} (6 domains, train/held-out split
     * stored), which must be on the class path.
     */
    public static Corpus bundled() {
        return new Corpus("bundled", report -> {
            ClassLoader loader = Corpus.class.getClassLoader();
            InputStream in = loader == null ? ClassLoader.getSystemResourceAsStream(BUNDLED_RESOURCE)
                    : loader.getResourceAsStream(BUNDLED_RESOURCE);
            if (in == null) {
                throw new IllegalStateException("Corpus.bundled: " + BUNDLED_RESOURCE + " is not on the class path: "
                        + "the bundled corpus is the artifact dev.lory4j:lory4j-corpus; add it to your dependencies");
            }
            report.file();
            try {
                return new JsonlReader(Path.of("bundled:" + BUNDLED_RESOURCE), Gzip.maybeDecompress(in), "default",
                        ReadOptions.defaults(), report);
            } catch (IOException e) {
                throw new UncheckedIOException("Corpus.bundled: cannot read " + BUNDLED_RESOURCE, e);
            }
        }, d -> true);
    }

    /** Opens a JSONL file (optionally gzip) or a directory with the default options (fail on malformed input). */
    public static Corpus open(Path path) {
        return open(path, ReadOptions.defaults());
    }

    /** Opens a JSONL file (optionally gzip) or a directory of {@code .txt}/JSONL files. */
    public static Corpus open(Path path, ReadOptions options) {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException("Corpus.open: " + path + " does not exist");
        }
        if (Files.isDirectory(path)) {
            return new Corpus(path.toString(), report -> new DirectoryPass(path, options, report), d -> true);
        }
        return new Corpus(path.toString(), report -> {
            report.file();
            return new JsonlReader(path, openStream(path), options.defaultDomain(), options, report);
        }, d -> true);
    }

    /** A corpus over documents already in memory. */
    public static Corpus of(List<Document> documents) {
        List<Document> copy = List.copyOf(documents);
        return new Corpus("memory", report -> {
            for (Document d : copy) {
                report.document(d.text().length());
            }
            return copy.iterator();
        }, d -> true);
    }

    /** A name for messages: the path, {@code bundled} or {@code memory}. */
    public String name() {
        return name;
    }

    /** The documents of one split (a view; reading it still streams). */
    public Corpus split(Split split) {
        return where(d -> d.split() == split);
    }

    /** The documents of one domain (a view). */
    public Corpus domain(String domain) {
        return where(d -> d.domain().equals(domain));
    }

    /** The documents that pass {@code predicate} (a view). */
    public Corpus where(Predicate<Document> predicate) {
        return new Corpus(name, passes, filter.and(predicate));
    }

    /** A fresh streaming pass; close the stream to release an unfinished pass's file. */
    public Stream<Document> stream() {
        ReadReport report = new ReadReport();
        lastReport = report;
        Iterator<Document> it = passes.open(report);
        Stream<Document> s = StreamSupport.stream(
                Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false);
        if (it instanceof AutoCloseable c) {
            s = s.onClose(() -> {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new UncheckedIOException(new IOException("Corpus " + name + ": close failed", e));
                }
            });
        }
        return s.filter(filter);
    }

    /** A fresh streaming pass; its file is closed when the iteration reaches the end. */
    @Override
    public Iterator<Document> iterator() {
        Stream<Document> s = stream();
        Iterator<Document> it = s.iterator();
        return new Iterator<>() {
            boolean closed;

            @Override
            public boolean hasNext() {
                if (closed) {
                    return false;
                }
                boolean more = it.hasNext();
                if (!more) {
                    closed = true;
                    s.close();
                }
                return more;
            }

            @Override
            public Document next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("Corpus " + name + ": no more documents");
                }
                return it.next();
            }
        };
    }

    /** Reads every document into a list (in file order). */
    public List<Document> load() {
        try (Stream<Document> s = stream()) {
            return new ArrayList<>(s.toList());
        }
    }

    /** The report of the latest pass (complete once that pass has ended). */
    public ReadReport lastReport() {
        return lastReport;
    }

    /** Document counts per domain, in first-seen order (one pass). */
    public Map<String, Long> domainCounts() {
        Map<String, Long> counts = new LinkedHashMap<>();
        try (Stream<Document> s = stream()) {
            s.forEach(d -> counts.merge(d.domain(), 1L, Long::sum));
        }
        return counts;
    }

    static InputStream openStream(Path path) {
        try {
            return Gzip.maybeDecompress(Files.newInputStream(path));
        } catch (IOException e) {
            throw new UncheckedIOException("Corpus: cannot open " + path, e);
        }
    }
}
