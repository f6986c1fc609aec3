package dev.lory4j.data.batch;

import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.kernels.Parallel;
import java.util.ArrayList;
import java.util.List;
import dev.lory4j.data.internal.IntList;

/**
 * Standard packing (spec §6.2 [INFER]): documents in the given order, each followed by the tokenizer's
 * document-boundary token, concatenated into one stream that is cut every {@code seqLen} tokens; a
 * document may straddle two sequences; the tail that does not fill a sequence is dropped and counted.
 * A trainer that predicts the next token wants {@code seqLen = context + 1}.
 */
public final class Packer {
    private final Tokenizer tokenizer;
    private final int seqLen;

    /** A packer for sequences of {@code seqLen} tokens. */
    public Packer(Tokenizer tokenizer, int seqLen) {
        if (seqLen < 2) {
            throw new IllegalArgumentException("Packer: seqLen " + seqLen + " must be at least 2");
        }
        this.tokenizer = tokenizer;
        this.seqLen = seqLen;
    }

    /** Packs {@code docs} in the order {@code order} (indices into docs; each used at most once). */
    public PackedSequences pack(List<Document> docs, int[] order) {
        int n = order.length;
        int[][] encoded = new int[n][];
        int chunk = 16;
        Parallel.parallelFor((n + chunk - 1) / chunk, t -> {
            for (int i = t * chunk, e = Math.min(n, i + chunk); i < e; i++) {
                encoded[i] = tokenizer.encode(docs.get(order[i]).text());
            }
        });
        long total = 0;
        for (int[] e : encoded) {
            total += e.length + 1;
        }
        long seqs = total / seqLen;
        if (seqs * seqLen > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Packer.pack: " + total + " tokens exceed one int[] (2^31 - 1)");
        }
        int[] tokens = new int[(int) (seqs * seqLen)];
        IntList segOff = new IntList();
        IntList segDoc = new IntList();
        IntList segStart = new IntList();
        List<String> ids = new ArrayList<>(n);
        List<String> domains = new ArrayList<>(n);
        int boundary = tokenizer.documentBoundaryId();
        int pos = 0; // global position in the stream
        int limit = tokens.length;
        segOff.add(0);
        int currentSeq = 0;
        for (int i = 0; i < n && pos < limit; i++) {
            Document d = docs.get(order[i]);
            ids.add(d.id());
            domains.add(d.domain());
            int[] e = encoded[i];
            int len = e.length + 1;
            int p = 0;
            while (p < len && pos < limit) {
                int seq = pos / seqLen;
                while (currentSeq < seq) { // close finished sequences
                    segOff.add(segDoc.size());
                    currentSeq++;
                }
                // the document's piece inside this sequence
                segDoc.add(i);
                segStart.add(pos - seq * seqLen);
                int room = (seq + 1) * seqLen - pos;
                int take = Math.min(room, len - p);
                int fromDoc = Math.min(take, e.length - p);
                if (fromDoc > 0) {
                    System.arraycopy(e, p, tokens, pos, fromDoc);
                }
                if (fromDoc < take) {
                    tokens[pos + take - 1] = boundary;
                }
                p += take;
                pos += take;
            }
        }
        while (currentSeq < seqs) {
            segOff.add(segDoc.size());
            currentSeq++;
        }
        return new PackedSequences(seqLen, tokens, segOff.toArray(), segDoc.toArray(), segStart.toArray(),
                List.copyOf(ids), List.copyOf(domains), total - tokens.length);
    }

    /** The random-packing baseline: the same packing after a seeded shuffle of the documents. */
    public PackedSequences packRandom(List<Document> docs, long seed) {
        return pack(docs, randomOrder(docs.size(), seed));
    }

    /** A seeded random permutation of {@code 0..n-1}. */
    public static int[] randomOrder(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        new Rng(seed).shuffle(order);
        return order;
    }
}
