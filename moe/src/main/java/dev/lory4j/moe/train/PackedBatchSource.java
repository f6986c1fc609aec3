package dev.lory4j.moe.train;

import dev.lory4j.data.batch.BatchIterator;
import dev.lory4j.data.batch.PackedSequences;

/**
 * Training batches from packed sequences of L + 1 tokens (inputs are the first L, targets the last L), shuffled
 * per epoch by {@link BatchIterator}; position p is batch p mod (batches per epoch) of epoch p / (batches per
 * epoch), so a checkpoint needs only p.
 */
public final class PackedBatchSource implements BatchSource {
    private final PackedSequences packed;
    private final BatchIterator iterator;
    private final int batch;
    private long position;

    /** Batches of {@code batch} rows from {@code packed}, shuffled with {@code seed}. */
    public PackedBatchSource(PackedSequences packed, int batch, long seed) {
        if (packed.size() < batch) {
            throw new IllegalArgumentException("PackedBatchSource: " + packed.size() + " sequences cannot fill a batch of "
                    + batch);
        }
        this.packed = packed;
        this.batch = batch;
        this.iterator = new BatchIterator(packed, batch, new BatchIterator.Position(seed, 0, 0), 0, 0);
    }

    @Override
    public Batch next() {
        int per = iterator.batchesPerEpoch();
        BatchIterator.Batch b = iterator.make(position / per, position % per);
        position++;
        return toBatch(packed, b.tokens(), b.sequences(), batch, b.seqLen());
    }

    /** Turns rows of L + 1 tokens into inputs/targets with each row's majority domain. */
    public static Batch toBatch(PackedSequences packed, int[] tokens, int[] sequences, int rows, int rowLen) {
        int[][] r = new int[rows][rowLen];
        String[] domains = new String[rows];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(tokens, i * rowLen, r[i], 0, rowLen);
            domains[i] = packed.majorityDomain(sequences[i]);
        }
        return Batch.fromSequences(r, domains);
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public void seek(long p) {
        if (p < 0) {
            throw new IllegalArgumentException("PackedBatchSource: negative position " + p);
        }
        position = p;
    }
}
