package dev.lory4j.data.knn;

import dev.lory4j.data.embed.Embeddings;

/**
 * All-pairs k-nearest-neighbour search over L2-normalised embeddings (similarity = dot product = cosine).
 * {@link ExactNeighborIndex} for small collections; for large ones the approximate {@link IvfNeighborIndex}
 * (inverted file, the fastest here) or {@link JVectorNeighborIndex} (graph index); {@link #auto(int)} chooses
 * by size.
 */
public interface NeighborIndex {
    /** The k nearest other rows of every row. */
    KnnGraph nearest(Embeddings vectors, int k);

    /** A short description for reports. */
    String describe();

    /** Exact search up to {@code exactLimit} rows, IVF (24 probes) above (default limit: 20,000). */
    static NeighborIndex auto(int exactLimit) {
        NeighborIndex exact = new ExactNeighborIndex();
        NeighborIndex approx = new IvfNeighborIndex(0, 24, 6, 1);
        return new NeighborIndex() {
            @Override
            public KnnGraph nearest(Embeddings vectors, int k) {
                return (vectors.count() <= exactLimit ? exact : approx).nearest(vectors, k);
            }

            @Override
            public String describe() {
                return "auto (exact up to " + exactLimit + " documents, then " + approx.describe() + ")";
            }
        };
    }

    /** {@link #auto(int)} with a limit of 20,000 documents. */
    static NeighborIndex auto() {
        return auto(20_000);
    }
}
