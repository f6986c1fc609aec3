package dev.lory4j.data;

import java.util.Objects;

/**
 * One document of a corpus.
 *
 * @param id     a stable identifier, unique within its corpus
 * @param domain the domain label (for example {@code fiction} or {@code code}); used for per-domain analysis
 * @param text   the text
 * @param split  training or held out
 */
public record Document(String id, String domain, String text, Split split) {
    /** Checks that no field is null. */
    public Document {
        Objects.requireNonNull(id, "Document: id is null");
        Objects.requireNonNull(domain, "Document: domain is null");
        Objects.requireNonNull(text, "Document: text is null");
        Objects.requireNonNull(split, "Document: split is null");
    }

    /** A training document. */
    public static Document of(String id, String domain, String text) {
        return new Document(id, domain, text, Split.TRAIN);
    }

    /** A short description for messages (id, domain, length), never the whole text. */
    @Override
    public String toString() {
        return "Document[" + id + ", " + domain + ", " + text.length() + " chars, " + split.label() + "]";
    }
}
