package dev.lory4j.data.batch;

import java.util.Arrays;

/**
 * The greedy maximum-TSP path of In-Context Pretraining [P-ICP §2.2, spec §6.2 Algorithm 1], with the
 * decisions the spec asks an implementation to fix:
 *
 * <pre>
 * P ← []
 * while some document is unvisited:
 *     d ← the unvisited document of minimum degree      (degree in the FULL graph; ties: smallest id)
 *     append d
 *     while d has an unvisited GRAPH neighbour:          (symmetric edges, not only d's own top-k)
 *         d ← argmax over those of sim(d, ·)             (argmax, not the paper's argmin typo; ties: smallest id)
 *         append d
 * </pre>
 * A dead end "adds an edge of weight 0" to the next minimum-degree document, i.e. starts a new walk.
 * O(n log n + edges).
 */
public final class IcpTraversal {
    private IcpTraversal() {
    }

    /**
     * The result.
     *
     * @param path   every document exactly once, in traversal order
     * @param starts positions in {@code path} where a walk starts (the first is 0; the rest are restarts)
     */
    public record Path(int[] path, int[] starts) {
        /** Number of walks (1 + restarts). */
        public int walks() {
            return starts.length;
        }
    }

    /** Traverses {@code g}. */
    public static Path traverse(SimilarityGraph g) {
        int n = g.nodeCount();
        // nodes by (full-graph degree, id): the next start is the first unvisited entry
        long[] order = new long[n];
        for (int i = 0; i < n; i++) {
            order[i] = ((long) g.degree(i) << 32) | i;
        }
        Arrays.sort(order);
        boolean[] visited = new boolean[n];
        int[] path = new int[n];
        int[] starts = new int[n];
        int len = 0;
        int walks = 0;
        int cursor = 0;
        while (len < n) {
            while (visited[(int) order[cursor]]) {
                cursor++;
            }
            int d = (int) order[cursor];
            starts[walks++] = len;
            visited[d] = true;
            path[len++] = d;
            while (true) {
                int best = -1;
                float bestW = Float.NEGATIVE_INFINITY;
                for (int e = g.start(d), end = g.end(d); e < end; e++) {
                    int t = g.target(e);
                    if (!visited[t]) {
                        float w = g.weightAt(e);
                        // targets are sorted by id, so strict '>' keeps the smallest id among equal weights
                        if (best < 0 || w > bestW) {
                            best = t;
                            bestW = w;
                        }
                    }
                }
                if (best < 0) {
                    break;
                }
                d = best;
                visited[d] = true;
                path[len++] = d;
            }
        }
        return new Path(path, Arrays.copyOf(starts, walks));
    }
}
