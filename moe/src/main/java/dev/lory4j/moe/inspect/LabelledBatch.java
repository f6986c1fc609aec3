package dev.lory4j.moe.inspect;

import dev.lory4j.data.Document;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.PackedBatchSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A batch with what is known of its rows (domain; documents and offsets of the tokens), so that a routing trace can
 * name the document and token range of every segment it records.
 */
public record LabelledBatch(Batch batch, List<RoutingTrace.Row> rows) {
    /** Checks one row description per row. */
    public LabelledBatch {
        if (rows.size() != batch.batch()) {
            throw new IllegalArgumentException("LabelledBatch: " + rows.size() + " row descriptions for a batch of "
                    + batch.batch() + " rows");
        }
        rows = List.copyOf(rows);
    }

    /** A batch of which only the rows' domains are known. */
    public static LabelledBatch of(Batch b) {
        List<RoutingTrace.Row> rows = new ArrayList<>();
        for (int r = 0; r < b.batch(); r++) {
            rows.add(RoutingTrace.Row.of(b.domains() == null ? null : b.domains()[r]));
        }
        return new LabelledBatch(b, rows);
    }

    /**
     * Sequences {@code sequences} of {@code packed} as one batch (inputs: the first L of each row's L + 1 tokens, each
     * row's majority domain), with the document and in-document offset of every input token.
     */
    public static LabelledBatch packed(PackedSequences packed, int[] sequences) {
        int rowLen = packed.seqLen();
        int[] tokens = new int[sequences.length * rowLen];
        for (int i = 0; i < sequences.length; i++) {
            packed.copyTokens(sequences[i], tokens, i * rowLen);
        }
        Batch b = PackedBatchSource.toBatch(packed, tokens, sequences, sequences.length, rowLen);
        long[] docStart = documentStarts(packed);
        List<RoutingTrace.Row> rows = new ArrayList<>();
        for (int i = 0; i < sequences.length; i++) {
            int seq = sequences[i];
            int[] docs = packed.documents(seq);
            int[] starts = packed.segmentStarts(seq);
            String[] ids = new String[rowLen - 1];
            int[] offsets = new int[rowLen - 1];
            for (int k = 0; k < docs.length; k++) {
                int end = Math.min(rowLen - 1, k + 1 < docs.length ? starts[k + 1] : rowLen);
                for (int p = starts[k]; p < end; p++) {
                    ids[p] = packed.documentIds().get(docs[k]);
                    offsets[p] = (int) ((long) seq * rowLen + p - docStart[docs[k]]);
                }
            }
            rows.add(new RoutingTrace.Row(b.domains()[i], ids, offsets));
        }
        return new LabelledBatch(b, rows);
    }

    /** Where each document of {@code packed} starts in its stream of sequences (token index; -1 if absent). */
    private static long[] documentStarts(PackedSequences packed) {
        long[] start = new long[packed.documentIds().size()];
        Arrays.fill(start, -1);
        for (int seq = 0; seq < packed.size(); seq++) {
            int[] docs = packed.documents(seq);
            int[] starts = packed.segmentStarts(seq);
            for (int k = 0; k < docs.length; k++) {
                if (start[docs[k]] < 0) {
                    start[docs[k]] = (long) seq * packed.seqLen() + starts[k];
                }
            }
        }
        return start;
    }

    /**
     * The start of one document as a batch of one row: its first {@code length} tokens as inputs (fewer when it is
     * shorter), the next ones as targets; null when the document has fewer than two tokens.
     */
    public static LabelledBatch document(Document doc, Tokenizer tokenizer, int length) {
        if (length <= 0) {
            throw new IllegalArgumentException("LabelledBatch.document: length " + length + " must be positive");
        }
        int[] ids = tokenizer.encode(doc.text());
        int n = Math.min(length, ids.length - 1);
        if (n <= 0) {
            return null;
        }
        Batch b = Batch.fromSequences(new int[][] {Arrays.copyOf(ids, n + 1)}, new String[] {doc.domain()});
        String[] docs = new String[n];
        Arrays.fill(docs, doc.id());
        int[] offsets = new int[n];
        Arrays.setAll(offsets, i -> i);
        return new LabelledBatch(b, List.of(new RoutingTrace.Row(doc.domain(), docs, offsets)));
    }
}
