package dev.lory4j.data.batch;

import java.util.Arrays;
import java.util.List;

/**
 * Training sequences of exactly {@code seqLen} tokens cut from one stream of documents, each document
 * followed by the document-boundary token; a document may continue into the next sequence. For every
 * sequence the documents it holds are kept as segments (document index and start position), so per-domain
 * analysis can tell which tokens came from where. A segment runs to the next segment's start (or the end of
 * the sequence) and includes the boundary token that closes its document.
 */
public final class PackedSequences {
    private final int seqLen;
    private final int[] tokens;
    private final int[] segOffsets;
    private final int[] segDoc;
    private final int[] segStart;
    private final List<String> docIds;
    private final List<String> docDomains;
    private final long droppedTokens;

    PackedSequences(int seqLen, int[] tokens, int[] segOffsets, int[] segDoc, int[] segStart,
                    List<String> docIds, List<String> docDomains, long droppedTokens) {
        this.seqLen = seqLen;
        this.tokens = tokens;
        this.segOffsets = segOffsets;
        this.segDoc = segDoc;
        this.segStart = segStart;
        this.docIds = docIds;
        this.docDomains = docDomains;
        this.droppedTokens = droppedTokens;
    }

    /**
     * Sequences of {@code seqLen} tokens read back from rows ({@code tokens}: row-major, length a multiple of
     * seqLen, not copied) without the documents they came from: {@link #documents} is empty, domains are unknown.
     */
    public static PackedSequences ofRows(int seqLen, int[] tokens) {
        if (seqLen < 2 || tokens.length % seqLen != 0) {
            throw new IllegalArgumentException("PackedSequences.ofRows: " + tokens.length + " tokens do not make rows of "
                    + seqLen + " (need seqLen >= 2 and a multiple of it)");
        }
        return new PackedSequences(seqLen, tokens, new int[tokens.length / seqLen + 1], new int[0], new int[0],
                List.of(), List.of(), 0);
    }

    /** Number of sequences. */
    public int size() {
        return segOffsets.length - 1;
    }

    /** Tokens per sequence. */
    public int seqLen() {
        return seqLen;
    }

    /** The tokens of sequence {@code i} (a copy). */
    public int[] tokens(int i) {
        return Arrays.copyOfRange(tokens, i * seqLen, (i + 1) * seqLen);
    }

    /** Copies sequence {@code i} into {@code dst} at {@code off}. */
    public void copyTokens(int i, int[] dst, int off) {
        System.arraycopy(tokens, i * seqLen, dst, off, seqLen);
    }

    /** The documents of sequence {@code i}, in order (indices into {@link #documentIds()}). */
    public int[] documents(int i) {
        return Arrays.copyOfRange(segDoc, segOffsets[i], segOffsets[i + 1]);
    }

    /** Where each document of sequence {@code i} starts inside it (same order as {@link #documents}). */
    public int[] segmentStarts(int i) {
        return Arrays.copyOfRange(segStart, segOffsets[i], segOffsets[i + 1]);
    }

    /** The domain of every token position of sequence {@code i}. */
    public String[] tokenDomains(int i) {
        String[] out = new String[seqLen];
        for (int s = segOffsets[i]; s < segOffsets[i + 1]; s++) {
            int end = s + 1 < segOffsets[i + 1] ? segStart[s + 1] : seqLen;
            Arrays.fill(out, segStart[s], end, docDomains.get(segDoc[s]));
        }
        return out;
    }

    /** The domain holding the most tokens of sequence {@code i} (ties: the first to reach the count). */
    public String majorityDomain(int i) {
        return majority(i).domain;
    }

    /** The share of sequence {@code i}'s tokens that belong to its majority domain. */
    public double purity(int i) {
        return majority(i).tokens / (double) seqLen;
    }

    private record Majority(String domain, int tokens) {
    }

    private Majority majority(int i) {
        java.util.LinkedHashMap<String, Integer> count = new java.util.LinkedHashMap<>();
        for (int s = segOffsets[i]; s < segOffsets[i + 1]; s++) {
            int end = s + 1 < segOffsets[i + 1] ? segStart[s + 1] : seqLen;
            count.merge(docDomains.get(segDoc[s]), end - segStart[s], Integer::sum);
        }
        String best = null;
        int bestN = 0;
        for (var e : count.entrySet()) {
            if (e.getValue() > bestN) {
                best = e.getKey();
                bestN = e.getValue();
            }
        }
        return new Majority(best, bestN);
    }

    /** Ids of the packed documents, indexed by the document indices used here. */
    public List<String> documentIds() {
        return docIds;
    }

    /** Domains of the packed documents, same indexing. */
    public List<String> documentDomains() {
        return docDomains;
    }

    /** Tokens at the end of the stream that did not fill a last sequence and were left out. */
    public long droppedTokens() {
        return droppedTokens;
    }
}
