package dev.lory4j.data.knn;

import java.util.Arrays;

/**
 * The k nearest neighbours of every document, self excluded: row {@code i} lists up to {@code k} neighbour
 * ids by decreasing similarity (ties: smaller id first), padded with id -1 and similarity NaN when fewer
 * than k exist.
 */
public final class KnnGraph {
    private final int count;
    private final int k;
    private final int[] ids;
    private final float[] sims;

    /** Wraps the row-major {@code count × k} arrays (not copied). */
    public KnnGraph(int count, int k, int[] ids, float[] sims) {
        if (k <= 0 || (long) count * k != ids.length || ids.length != sims.length) {
            throw new IllegalArgumentException("KnnGraph: " + count + " x " + k + " does not match arrays of "
                    + ids.length + " and " + sims.length);
        }
        this.count = count;
        this.k = k;
        this.ids = ids;
        this.sims = sims;
    }

    /** Builds the exact graph from a full similarity matrix (for tests and tiny inputs). */
    public static KnnGraph fromSimilarityMatrix(double[][] sim, int k) {
        int n = sim.length;
        int[] ids = new int[n * k];
        float[] s = new float[n * k];
        for (int i = 0; i < n; i++) {
            TopK top = new TopK(k);
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    top.offer(j, (float) sim[i][j]);
                }
            }
            top.drainInto(ids, s, i * k);
        }
        return new KnnGraph(n, k, ids, s);
    }

    /** Number of documents. */
    public int count() {
        return count;
    }

    /** Neighbours per document. */
    public int k() {
        return k;
    }

    /** The j-th neighbour of {@code i} (-1 when absent). */
    public int neighbor(int i, int j) {
        return ids[i * k + j];
    }

    /** The similarity of {@code i} to its j-th neighbour. */
    public float similarity(int i, int j) {
        return sims[i * k + j];
    }

    /** The neighbour ids of {@code i} (a copy, without padding). */
    public int[] neighbors(int i) {
        int n = 0;
        while (n < k && ids[i * k + n] >= 0) {
            n++;
        }
        return Arrays.copyOfRange(ids, i * k, i * k + n);
    }

    /** The backing id array (row-major count × k). */
    public int[] ids() {
        return ids;
    }

    /** The backing similarity array. */
    public float[] similarities() {
        return sims;
    }

    /**
     * Recall of this graph against an exact one: the fraction of the exact top-k ids (over all rows) that
     * this graph's top-k rows contain.
     */
    public double recallAgainst(KnnGraph exact) {
        if (exact.count != count) {
            throw new IllegalArgumentException("KnnGraph.recallAgainst: " + count + " rows vs " + exact.count);
        }
        int kk = Math.min(k, exact.k);
        long hit = 0;
        long total = 0;
        for (int i = 0; i < count; i++) {
            for (int a = 0; a < kk; a++) {
                int want = exact.ids[i * exact.k + a];
                if (want < 0) {
                    continue;
                }
                total++;
                for (int b = 0; b < kk; b++) {
                    if (ids[i * k + b] == want) {
                        hit++;
                        break;
                    }
                }
            }
        }
        return total == 0 ? 1.0 : (double) hit / total;
    }

    /** Keeps the best k candidates by (similarity descending, id ascending). */
    static final class TopK {
        final int[] id;
        final float[] sim;
        int size;

        TopK(int k) {
            id = new int[k];
            sim = new float[k];
        }

        /** Worse-than-the-worst test first, so most candidates cost one comparison. */
        void offer(int cand, float s) {
            int k = id.length;
            if (size == k) {
                float ws = sim[k - 1];
                if (s < ws || (s == ws && cand > id[k - 1]) || Float.isNaN(s)) {
                    return;
                }
            } else {
                size++;
            }
            int p = size - 1;
            while (p > 0 && (sim[p - 1] < s || (sim[p - 1] == s && id[p - 1] > cand))) {
                sim[p] = sim[p - 1];
                id[p] = id[p - 1];
                p--;
            }
            sim[p] = s;
            id[p] = cand;
        }

        void drainInto(int[] ids, float[] sims, int off) {
            for (int j = 0; j < id.length; j++) {
                ids[off + j] = j < size ? id[j] : -1;
                sims[off + j] = j < size ? sim[j] : Float.NaN;
            }
            size = 0;
        }
    }
}
