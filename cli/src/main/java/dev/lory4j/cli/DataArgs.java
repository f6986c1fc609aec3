package dev.lory4j.cli;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.tokenizer.BpeTrainer;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Reading the data and the tokenizer a command names. */
final class DataArgs {
    private DataArgs() {}

    /** The word for the corpus inside lory4j. */
    static final String BUNDLED = "bundled";

    /**
     * The documents of {@code spec} (a JSONL or JSONL.gz file with a {@code text} field and optional {@code domain},
     * {@code id} and {@code split}; a directory of text or JSONL files, domain = sub-directory; or {@code bundled}),
     * those of {@code split} only unless it is null.
     */
    static List<Document> documents(String spec, Split split) {
        Corpus corpus = spec.equals(BUNDLED) ? Corpus.bundled() : Corpus.open(Path.of(spec));
        if (split != null) {
            corpus = corpus.split(split);
        }
        try {
            List<Document> docs = corpus.load();
            if (docs.isEmpty()) {
                throw new IllegalArgumentException(spec + " holds no " + (split == null ? "" : split.label() + " ")
                        + "documents");
            }
            return docs;
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException(spec + ": " + Main.message(e.getCause()), e.getCause());
        }
    }

    /** A split named on the command line: train, heldout or all (null). */
    static Split split(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "all" -> null;
            case "train" -> Split.TRAIN;
            case "heldout", "held-out", "test" -> Split.HELDOUT;
            default -> throw new IllegalArgumentException("--split '" + name + "' is not one of train, heldout, all");
        };
    }

    /** The tokenizer {@code spec} names: {@code byte}, {@code bpe} (trained on {@code docs}) or a tokenizer.json. */
    static Tokenizer tokenizer(String spec, int vocab, List<Document> docs, PrintStream log) throws IOException {
        return switch (spec) {
            case "byte" -> new ByteTokenizer();
            case "bpe" -> {
                if (vocab <= 258) {
                    throw new IllegalArgumentException("--vocab " + vocab + " must exceed 258 (bytes and two "
                            + "special tokens) for a BPE tokenizer");
                }
                long t0 = System.nanoTime();
                BpeTrainer.Result r = new BpeTrainer(vocab).train(docs.stream().map(Document::text).toList());
                log.printf(Locale.ROOT, "tokenizer: BPE of %d tokens trained on %d documents (%d merges) in %.1f s%n",
                        r.tokenizer().vocabSize(), docs.size(), r.merges(), (System.nanoTime() - t0) / 1e9);
                yield r.tokenizer();
            }
            default -> Tokenizer.load(Path.of(spec));
        };
    }
}
