package dev.lory4j.data.knn;

import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.kernels.Parallel;

/**
 * Approximate all-pairs kNN with an inverted file (the idea of FAISS's IVF, which Lory and ICP used):
 * spherical k-means splits the rows into {@code lists} clusters ({@code ≈ sqrt(n)} by default); every row
 * is then compared exactly (Vector-API dot products) with the members of the {@code probes} clusters whose
 * centroids are closest to it. Work ≈ n · probes · n / lists · dim, so about n^1.5 instead of n².
 * Deterministic for a seed; rows are copied into cluster order so each scan reads contiguous memory.
 */
public final class IvfNeighborIndex implements NeighborIndex {
    private final int lists;
    private final int probes;
    private final int iterations;
    private final long seed;

    /**
     * An index.
     *
     * @param lists      number of clusters (0: {@code round(sqrt(n))})
     * @param probes     clusters scanned per row
     * @param iterations k-means iterations (on a sample of at most 64 rows per cluster)
     * @param seed       seed of the centroid initialisation
     */
    public IvfNeighborIndex(int lists, int probes, int iterations, long seed) {
        if (lists < 0 || probes < 1 || iterations < 0) {
            throw new IllegalArgumentException("IvfNeighborIndex: lists " + lists + ", probes " + probes
                    + ", iterations " + iterations + " (need lists >= 0, probes >= 1, iterations >= 0)");
        }
        this.lists = lists;
        this.probes = probes;
        this.iterations = iterations;
        this.seed = seed;
    }

    /** sqrt(n) lists, 12 probes, 6 iterations, seed 1. */
    public IvfNeighborIndex() {
        this(0, 12, 6, 1);
    }

    @Override
    public KnnGraph nearest(Embeddings v, int k) {
        if (k <= 0) {
            throw new IllegalArgumentException("IvfNeighborIndex.nearest: k " + k + " must be positive");
        }
        int n = v.count();
        int dim = v.dim();
        float[] x = v.data();
        int c = lists > 0 ? Math.min(lists, n) : Math.max(1, (int) Math.round(Math.sqrt(n)));
        int p = Math.min(probes, c);
        float[] cent = trainCentroids(x, n, dim, c, iterations, seed);
        // nearest p centroids of every row
        int[] probe = new int[n * p];
        int[] first = new int[n];
        int qb = 64;
        Parallel.parallelFor((n + qb - 1) / qb, b -> {
            int q0 = b * qb;
            int nq = Math.min(qb, n - q0);
            KnnGraph.TopK top = new KnnGraph.TopK(p);
            for (int q = q0; q < q0 + nq; q++) {
                for (int j = 0; j < c; j++) {
                    top.offer(j, DotKernel.dot(x, q * dim, cent, j * dim, dim));
                }
                first[q] = top.id[0];
                int[] ids = new int[p];
                top.drainInto(ids, new float[p], 0);
                System.arraycopy(ids, 0, probe, q * p, p);
            }
        });
        // rows in cluster order
        int[] start = new int[c + 1];
        for (int q = 0; q < n; q++) {
            start[first[q] + 1]++;
        }
        for (int j = 0; j < c; j++) {
            start[j + 1] += start[j];
        }
        int[] fill = start.clone();
        int[] member = new int[n];
        float[] sorted = new float[n * dim];
        for (int q = 0; q < n; q++) {
            int pos = fill[first[q]]++;
            member[pos] = q;
            System.arraycopy(x, q * dim, sorted, pos * dim, dim);
        }
        int[] ids = new int[n * k];
        float[] sims = new float[n * k];
        Parallel.parallelFor((n + qb - 1) / qb, b -> {
            KnnGraph.TopK top = new KnnGraph.TopK(k);
            for (int q = b * qb, e = Math.min(n, q + qb); q < e; q++) {
                for (int t = 0; t < p; t++) {
                    int list = probe[q * p + t];
                    if (list < 0) {
                        continue;
                    }
                    for (int r = start[list]; r < start[list + 1]; r++) {
                        int id = member[r];
                        if (id != q) {
                            top.offer(id, DotKernel.dot(x, q * dim, sorted, r * dim, dim));
                        }
                    }
                }
                top.drainInto(ids, sims, q * k);
            }
        });
        return new KnnGraph(n, k, ids, sims);
    }

    /**
     * Spherical k-means of {@code n} L2-normalised rows of width {@code dim} into {@code c <= n} centroids (normalised
     * means of their members), on a seeded sample of at most 64 rows per centroid; returns the {@code c × dim}
     * centroids row-major. A distributed job trains them on a sample and assigns every row to its nearest.
     */
    public static float[] trainCentroids(float[] x, int n, int dim, int c, int iterations, long seed) {
        if (c < 1 || c > n || x.length < n * dim) {
            throw new IllegalArgumentException("IvfNeighborIndex.trainCentroids: " + c + " centroids of " + n
                    + " rows of " + dim + " (" + x.length + " values); need 1 <= c <= n");
        }
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = i;
        }
        new Rng(seed).shuffle(rows);
        int m = Math.min(n, c * 64);
        float[] cent = new float[c * dim];
        for (int j = 0; j < c; j++) {
            System.arraycopy(x, rows[j] * dim, cent, j * dim, dim);
        }
        int[] assign = new int[m];
        for (int it = 0; it < iterations; it++) {
            float[] cc = cent;
            Parallel.parallelFor((m + 255) / 256, b -> {
                for (int s = b * 256, e = Math.min(m, s + 256); s < e; s++) {
                    int best = 0;
                    float bs = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < c; j++) {
                        float d = DotKernel.dot(x, rows[s] * dim, cc, j * dim, dim);
                        if (d > bs) {
                            bs = d;
                            best = j;
                        }
                    }
                    assign[s] = best;
                }
            });
            float[] next = new float[c * dim];
            int[] size = new int[c];
            for (int s = 0; s < m; s++) {
                int j = assign[s];
                size[j]++;
                int o = rows[s] * dim;
                for (int t = 0; t < dim; t++) {
                    next[j * dim + t] += x[o + t];
                }
            }
            for (int j = 0; j < c; j++) {
                if (size[j] == 0) { // an empty cluster keeps its centroid
                    System.arraycopy(cent, j * dim, next, j * dim, dim);
                    continue;
                }
                float norm = (float) Math.sqrt(DotKernel.dot(next, j * dim, next, j * dim, dim));
                for (int t = 0; t < dim && norm > 0; t++) {
                    next[j * dim + t] /= norm;
                }
            }
            cent = next;
        }
        return cent;
    }

    @Override
    public String describe() {
        return "IVF (" + (lists > 0 ? lists : "sqrt(n)") + " lists, " + probes + " probes, spherical k-means)";
    }
}
