/** Corpora, tokenizers and similarity-based batching (issue #6 fills this module). */
module dev.lory4j.data {
    requires transitive dev.lory4j.tensor;
}
