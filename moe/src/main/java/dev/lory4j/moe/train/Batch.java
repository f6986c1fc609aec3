package dev.lory4j.moe.train;

/**
 * One training or evaluation batch: tokens and next-token targets laid out [batch, seqLen] row-major, and the
 * domain of each row (null entries where unknown).
 */
public record Batch(int[] tokens, int[] targets, int batch, int seqLen, String[] domains) {
    /** Validates the layout. */
    public Batch {
        if (batch <= 0 || seqLen <= 0 || tokens.length != batch * seqLen || targets.length != batch * seqLen) {
            throw new IllegalArgumentException("Batch: " + tokens.length + " tokens and " + targets.length
                    + " targets do not fill [" + batch + ", " + seqLen + "]");
        }
        if (domains != null && domains.length != batch) {
            throw new IllegalArgumentException("Batch: " + domains.length + " domains for " + batch + " rows");
        }
    }

    /** Builds a batch from rows of seqLen + 1 tokens (inputs are tokens[0..L), targets tokens[1..L]). */
    public static Batch fromSequences(int[][] rows, String[] domains) {
        int b = rows.length;
        int len = rows[0].length - 1;
        int[] x = new int[b * len];
        int[] y = new int[b * len];
        for (int r = 0; r < b; r++) {
            if (rows[r].length != len + 1) {
                throw new IllegalArgumentException("Batch: row " + r + " has " + rows[r].length + " tokens, row 0 has "
                        + (len + 1));
            }
            System.arraycopy(rows[r], 0, x, r * len, len);
            System.arraycopy(rows[r], 1, y, r * len, len);
        }
        return new Batch(x, y, b, len, domains);
    }

    /** Rows {@code [from, to)} of this batch. */
    public Batch rows(int from, int to) {
        if (from < 0 || to > batch || from >= to) {
            throw new IllegalArgumentException("Batch.rows: [" + from + ", " + to + ") of " + batch + " rows");
        }
        return new Batch(java.util.Arrays.copyOfRange(tokens, from * seqLen, to * seqLen),
                java.util.Arrays.copyOfRange(targets, from * seqLen, to * seqLen), to - from, seqLen,
                domains == null ? null : java.util.Arrays.copyOfRange(domains, from, to));
    }
}
