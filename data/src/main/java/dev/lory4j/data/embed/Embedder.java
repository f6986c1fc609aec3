package dev.lory4j.data.embed;

import java.util.List;

/**
 * Turns documents into vectors whose cosine similarity says how related they are. The default is
 * {@link HashedTfIdfEmbedder}; a model's mean hidden states can be plugged in by implementing this.
 */
public interface Embedder {
    /** The width of the vectors. */
    int dimension();

    /**
     * Embeds a collection at once (so collection statistics such as document frequencies can be used);
     * row {@code i} of the result belongs to {@code texts.get(i)}, L2-normalised.
     */
    Embeddings embed(List<String> texts);

    /** A short description for reports. */
    String describe();
}
