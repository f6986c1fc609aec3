/**
 * Corpora, tokenizers and similarity-based batching: documents and their readers, byte-level and BPE
 * tokenizers, document embeddings, nearest-neighbour search, the In-Context-Pretraining traversal, packing
 * and batch iterators. Knows nothing of models (depends on {@code tensor} only).
 */
module dev.lory4j.data {
    requires transitive dev.lory4j.tensor;
    requires jdk.incubator.vector;
    requires com.fasterxml.jackson.core;
    requires static jvector; // optional: only JVectorNeighborIndex uses it

    exports dev.lory4j.data;
    exports dev.lory4j.data.tokenizer;
    exports dev.lory4j.data.embed;
    exports dev.lory4j.data.knn;
    exports dev.lory4j.data.batch;
}
