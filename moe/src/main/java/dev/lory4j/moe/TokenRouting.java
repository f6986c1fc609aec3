package dev.lory4j.moe;

import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Index bookkeeping shared by the token-level baselines: top-k per row, and the rows each expert receives. */
final class TokenRouting {
    private TokenRouting() {}

    /** Indices of the k largest values of each row of a [n, e] matrix (descending; ties: smaller index first). */
    static int[] topK(Tensor scores, int k) {
        int n = scores.dim(0);
        int e = scores.dim(1);
        float[] s = scores.contiguous().toArray();
        int[] out = new int[n * k];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int c = 0; c < e; c++) {
                    if (contains(out, r * k, j, c)) {
                        continue;
                    }
                    if (best < 0 || s[r * e + c] > s[r * e + best]) {
                        best = c;
                    }
                }
                out[r * k + j] = best;
            }
        }
        return out;
    }

    /** Indices of the {@code c} largest entries of column {@code col} of a [n, e] matrix (ties: smaller row). */
    static int[] topRowsOfColumn(Tensor scores, int col, int c) {
        int n = scores.dim(0);
        Integer[] rows = new Integer[n];
        for (int i = 0; i < n; i++) {
            rows[i] = i;
        }
        Tensor column = scores.select(1, col).contiguous();
        float[] v = column.toArray();
        java.util.Arrays.sort(rows, (a, b) -> v[a] != v[b] ? Float.compare(v[b], v[a]) : Integer.compare(a, b));
        int[] out = new int[Math.min(c, n)];
        for (int i = 0; i < out.length; i++) {
            out[i] = rows[i];
        }
        java.util.Arrays.sort(out);
        return out;
    }

    private static boolean contains(int[] a, int from, int len, int v) {
        for (int i = 0; i < len; i++) {
            if (a[from + i] == v) {
                return true;
            }
        }
        return false;
    }

    /**
     * Sums, for every token, its experts' outputs weighted by the slot weights: routes[i] = {token rows, slots}
     * of expert i (see {@link #byExpert}), slotWeights [slots, 1]; tokens are the rows of xf [n, d].
     */
    static dev.lory4j.autograd.Var dispatch(ExpertBank experts, dev.lory4j.autograd.Var xf, int[][][] routes,
                                            dev.lory4j.autograd.Var slotWeights) {
        dev.lory4j.autograd.Var out = dev.lory4j.autograd.Var.of(Tensor.zeros(xf.dim(0), xf.dim(1)));
        for (int i = 0; i < routes.length; i++) {
            int[] rows = routes[i][0];
            if (rows.length > 0) {
                dev.lory4j.autograd.Var yi = experts.apply(i, xf.indexSelect(0, rows));
                out = out.indexAdd(0, rows, yi.mul(slotWeights.indexSelect(0, routes[i][1])));
            }
        }
        return out;
    }

    /** For each expert, the (token row, flat slot) pairs routed to it by a [n, k] assignment. */
    static int[][][] byExpert(int[] assignment, int k, int experts) {
        List<List<int[]>> lists = new ArrayList<>();
        for (int i = 0; i < experts; i++) {
            lists.add(new ArrayList<>());
        }
        for (int slot = 0; slot < assignment.length; slot++) {
            lists.get(assignment[slot]).add(new int[] {slot / k, slot});
        }
        int[][][] out = new int[experts][2][];
        for (int i = 0; i < experts; i++) {
            List<int[]> l = lists.get(i);
            out[i][0] = new int[l.size()];
            out[i][1] = new int[l.size()];
            for (int j = 0; j < l.size(); j++) {
                out[i][0][j] = l.get(j)[0];
                out[i][1][j] = l.get(j)[1];
            }
        }
        return out;
    }
}
