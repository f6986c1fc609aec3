package dev.lory4j.data.batch;

import dev.lory4j.data.knn.KnnGraph;
import java.util.Arrays;

/**
 * The undirected document graph of In-Context Pretraining (spec §6.2): an edge {@code (d, d*)} whenever
 * {@code d*} is among the k nearest neighbours of {@code d} or {@code d} among those of {@code d*}, weighted by
 * their cosine similarity. Stored as compressed rows (CSR) with each node's neighbours sorted by id.
 */
public final class SimilarityGraph {
    private final int[] offsets;
    private final int[] targets;
    private final float[] weights;

    private SimilarityGraph(int[] offsets, int[] targets, float[] weights) {
        this.offsets = offsets;
        this.targets = targets;
        this.weights = weights;
    }

    /**
     * Symmetrises a kNN graph. An edge listed in both directions keeps the larger of the two similarities (they
     * are equal for exact cosines; approximate indexes may differ in the last bits).
     */
    public static SimilarityGraph fromKnn(KnnGraph knn) {
        int n = knn.count();
        int k = knn.k();
        int[] deg = new int[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                int t = knn.neighbor(i, j);
                if (t >= 0 && t != i) {
                    deg[i]++;
                    deg[t]++;
                }
            }
        }
        int[] off = new int[n + 1];
        for (int i = 0; i < n; i++) {
            off[i + 1] = off[i] + deg[i];
        }
        long[] keys = new long[off[n]]; // per row: (target << 32) | float bits, sortable by target
        float[] w = new float[off[n]];
        int[] fill = Arrays.copyOf(off, n);
        int[] tgt = new int[off[n]];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                int t = knn.neighbor(i, j);
                if (t >= 0 && t != i) {
                    float s = knn.similarity(i, j);
                    tgt[fill[i]] = t;
                    w[fill[i]++] = s;
                    tgt[fill[t]] = i;
                    w[fill[t]++] = s;
                }
            }
        }
        // sort each row by target and merge duplicates
        int[] newOff = new int[n + 1];
        int out = 0;
        int[] outT = new int[off[n]];
        float[] outW = new float[off[n]];
        for (int i = 0; i < n; i++) {
            int a = off[i];
            int b = off[i + 1];
            for (int e = a; e < b; e++) {
                keys[e] = ((long) tgt[e] << 32) | (e - a);
            }
            Arrays.sort(keys, a, b);
            int last = -1;
            for (int e = a; e < b; e++) {
                int t = (int) (keys[e] >>> 32);
                float s = w[a + (int) keys[e]];
                if (t == last) {
                    outW[out - 1] = Math.max(outW[out - 1], s);
                } else {
                    outT[out] = t;
                    outW[out++] = s;
                    last = t;
                }
            }
            newOff[i + 1] = out;
        }
        return new SimilarityGraph(newOff, Arrays.copyOf(outT, out), Arrays.copyOf(outW, out));
    }

    /** Number of nodes. */
    public int nodeCount() {
        return offsets.length - 1;
    }

    /** Number of undirected edges. */
    public long edgeCount() {
        return targets.length / 2;
    }

    /** The degree of node {@code i} in the full graph. */
    public int degree(int i) {
        return offsets[i + 1] - offsets[i];
    }

    /** The neighbours of {@code i}, sorted by id (a copy). */
    public int[] neighbors(int i) {
        return Arrays.copyOfRange(targets, offsets[i], offsets[i + 1]);
    }

    /** The weight of the edge {@code (i, j)}, or NaN when there is none. */
    public float weight(int i, int j) {
        int p = Arrays.binarySearch(targets, offsets[i], offsets[i + 1], j);
        return p >= 0 ? weights[p] : Float.NaN;
    }

    int start(int i) {
        return offsets[i];
    }

    int end(int i) {
        return offsets[i + 1];
    }

    int target(int e) {
        return targets[e];
    }

    float weightAt(int e) {
        return weights[e];
    }
}
