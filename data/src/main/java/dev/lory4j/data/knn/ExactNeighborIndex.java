package dev.lory4j.data.knn;

import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.tensor.kernels.Parallel;

/**
 * Exact all-pairs kNN: blocks of 64 query rows against blocks of 256 base rows, each tile of dot products
 * computed by {@link DotKernel#tile} (Vector API, 4 × 2 register block), then folded into a per-query top-k.
 * O(n² · dim) work, parallel over query blocks; results do not depend on the thread count.
 */
public final class ExactNeighborIndex implements NeighborIndex {
    private static final int QB = 64;
    private static final int BB = 256;

    /** The exact index. */
    public ExactNeighborIndex() {
    }

    @Override
    public KnnGraph nearest(Embeddings v, int k) {
        if (k <= 0) {
            throw new IllegalArgumentException("ExactNeighborIndex.nearest: k " + k + " must be positive");
        }
        int n = v.count();
        int dim = v.dim();
        float[] x = v.data();
        int[] ids = new int[n * k];
        float[] sims = new float[n * k];
        int blocks = (n + QB - 1) / QB;
        Parallel.parallelFor(blocks, b -> {
            int q0 = b * QB;
            int nq = Math.min(QB, n - q0);
            KnnGraph.TopK[] tops = new KnnGraph.TopK[nq];
            for (int q = 0; q < nq; q++) {
                tops[q] = new KnnGraph.TopK(k);
            }
            float[] tile = new float[QB * BB];
            for (int r0 = 0; r0 < n; r0 += BB) {
                int nb = Math.min(BB, n - r0);
                DotKernel.tile(x, dim, q0, nq, r0, nb, tile);
                for (int q = 0; q < nq; q++) {
                    KnnGraph.TopK top = tops[q];
                    int self = q0 + q;
                    for (int r = 0; r < nb; r++) {
                        int id = r0 + r;
                        if (id != self) {
                            top.offer(id, tile[q * nb + r]);
                        }
                    }
                }
            }
            for (int q = 0; q < nq; q++) {
                tops[q].drainInto(ids, sims, (q0 + q) * k);
            }
        });
        return new KnnGraph(n, k, ids, sims);
    }

    @Override
    public String describe() {
        return "exact (Vector API dot-product tiles)";
    }
}
