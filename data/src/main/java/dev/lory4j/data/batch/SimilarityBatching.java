package dev.lory4j.data.batch;

import dev.lory4j.data.Document;
import dev.lory4j.data.embed.Embedder;
import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.data.knn.KnnGraph;
import dev.lory4j.data.knn.NeighborIndex;
import java.util.List;

/**
 * Lory's similarity-based batching, end to end (spec §6): embed every document, find its k nearest
 * neighbours, build the symmetric similarity graph, order the documents by the In-Context-Pretraining
 * traversal, drop near-duplicate neighbours, then (with {@link Packer}) pack the order into sequences.
 *
 * <pre>{@code
 * SimilarityBatching.Result r = SimilarityBatching.defaults().order(trainDocs);
 * PackedSequences seqs = new Packer(tokenizer, 513).pack(trainDocs, r.order());
 * }</pre>
 *
 * @param embedder the document embedder (default {@link HashedTfIdfEmbedder})
 * @param index    the nearest-neighbour search (default {@link NeighborIndex#auto()})
 * @param k        neighbours per document (default 10; the ICP code uses 9 of its top 50)
 * @param dedup    the near-duplicate filter, or null for none
 */
public record SimilarityBatching(Embedder embedder, NeighborIndex index, int k, NearDuplicateFilter dedup) {
    /** Checks the values. */
    public SimilarityBatching {
        if (embedder == null || index == null) {
            throw new IllegalArgumentException("SimilarityBatching: embedder and index are required");
        }
        if (k <= 0) {
            throw new IllegalArgumentException("SimilarityBatching: k " + k + " must be positive");
        }
    }

    /** Hashed TF-IDF (256-d), automatic exact/jvector search, k = 10, default near-duplicate filter. */
    public static SimilarityBatching defaults() {
        return new SimilarityBatching(new HashedTfIdfEmbedder(), NeighborIndex.auto(), 10, NearDuplicateFilter.defaults());
    }

    /**
     * The ordering and what it took.
     *
     * @param order       document indices (into the input list) in packing order, near-duplicates removed
     * @param dropped     indices removed as near-duplicates
     * @param walks       walks of the traversal (1 + restarts)
     * @param embeddings  the document embeddings (row = input index)
     * @param knn         the kNN graph
     * @param seconds     wall time of the stages: embed, kNN, graph + traversal, dedup
     */
    public record Result(int[] order, int[] dropped, int walks, Embeddings embeddings, KnnGraph knn, double[] seconds) {
    }

    /** Orders {@code docs} for packing. */
    public Result order(List<Document> docs) {
        long t0 = System.nanoTime();
        List<String> texts = docs.stream().map(Document::text).toList();
        Embeddings e = embedder.embed(texts);
        long t1 = System.nanoTime();
        KnnGraph knn = index.nearest(e, Math.min(k, Math.max(1, docs.size() - 1)));
        long t2 = System.nanoTime();
        IcpTraversal.Path path = IcpTraversal.traverse(SimilarityGraph.fromKnn(knn));
        long t3 = System.nanoTime();
        int[] order = path.path();
        int[] dropped = new int[0];
        if (dedup != null) {
            NearDuplicateFilter.Result r = dedup.filter(order, texts);
            order = r.kept();
            dropped = r.dropped();
        }
        long t4 = System.nanoTime();
        return new Result(order, dropped, path.walks(), e, knn,
                new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9, (t4 - t3) / 1e9});
    }
}
