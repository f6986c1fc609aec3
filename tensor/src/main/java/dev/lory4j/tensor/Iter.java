package dev.lory4j.tensor;

import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Parallel;

/**
 * Walks several strided operands of one shape row by row. Dimensions are first coalesced (merged where every
 * operand is contiguous across them, size-1 dimensions dropped), so the innermost run is as long as possible
 * and the kernels see long unit-stride runs whenever the memory layout allows.
 */
final class Iter {
    private Iter() {}

    /** Receives one innermost run: per-operand start offsets, its length, and per-operand increments. */
    interface Row {
        void row(int[] offsets, int n, int[] incs);
    }

    /** Calls {@code fn} once per innermost run of {@code shape}; operand k has strides[k] and offsets[k]. */
    static void rows(int[] shape, int[][] strides, int[] offsets, Row fn) {
        rows(shape, strides, offsets, false, fn);
    }

    /** As {@link #rows(int[], int[][], int[], Row)}; with {@code parallel}, rows may run concurrently on the kernel threads. */
    static void rows(int[] shape, int[][] strides, int[] offsets, boolean parallel, Row fn) {
        int ops = strides.length;
        int rank = shape.length;
        for (int d : shape) {
            if (d == 0) {
                return;
            }
        }
        // Coalesce: keep dims of size > 1, merge neighbours that are contiguous for every operand.
        int[] cs = new int[Math.max(rank, 1)];
        int[][] cst = new int[ops][Math.max(rank, 1)];
        int r = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 1) {
                continue;
            }
            if (r > 0) {
                boolean merge = true;
                for (int k = 0; k < ops; k++) {
                    if (cst[k][r - 1] != strides[k][d] * shape[d]) {
                        merge = false;
                        break;
                    }
                }
                if (merge) {
                    cs[r - 1] *= shape[d];
                    for (int k = 0; k < ops; k++) {
                        cst[k][r - 1] = strides[k][d];
                    }
                    continue;
                }
            }
            cs[r] = shape[d];
            for (int k = 0; k < ops; k++) {
                cst[k][r] = strides[k][d];
            }
            r++;
        }
        if (r == 0) { // a single element
            cs[0] = 1;
            r = 1;
        }
        int rank2 = r;
        if (parallel && rank2 >= 2 && cs[0] > 1 && Parallel.threads() > 1
                && (long) Shapes.numel(java.util.Arrays.copyOf(cs, rank2)) >= Elementwise.PARALLEL_THRESHOLD
                && cs[rank2 - 1] < Elementwise.PARALLEL_THRESHOLD) {
            // Many short runs (e.g. a bias broadcast over rows): split the outermost dimension over the threads.
            int tasks = Math.min(cs[0], Parallel.threads() * 4);
            Parallel.parallelFor(tasks, t -> walk(cs, cst, offsets, rank2, (int) ((long) cs[0] * t / tasks),
                    (int) ((long) cs[0] * (t + 1) / tasks), fn));
        } else {
            walk(cs, cst, offsets, rank2, 0, cs[0], fn);
        }
    }

    /** The odometer over coalesced dims, restricted to indices [from, to) of the outermost one. */
    private static void walk(int[] cs, int[][] cst, int[] offsets, int r, int from, int to, Row fn) {
        int ops = cst.length;
        int n = cs[r - 1];
        int[] incs = new int[ops];
        for (int k = 0; k < ops; k++) {
            incs[k] = cst[k][r - 1];
        }
        if (r == 1) {
            int[] cur = offsets.clone();
            if (from < to) {
                fn.row(cur, n, incs);
            }
            return;
        }
        if (from >= to) {
            return;
        }
        int[] off = offsets.clone();
        for (int k = 0; k < ops; k++) {
            off[k] += from * cst[k][0];
        }
        int[] idx = new int[r];
        idx[0] = from;
        int[] cur = new int[ops];
        while (true) {
            System.arraycopy(off, 0, cur, 0, ops);
            fn.row(cur, n, incs);
            // Odometer over the outer dims r-2 .. 0 (dim 0 stops at `to`).
            int d = r - 2;
            while (d >= 0) {
                idx[d]++;
                for (int k = 0; k < ops; k++) {
                    off[k] += cst[k][d];
                }
                if (idx[d] < (d == 0 ? to : cs[d])) {
                    break;
                }
                if (d == 0) {
                    return;
                }
                for (int k = 0; k < ops; k++) {
                    off[k] -= cst[k][d] * cs[d];
                }
                idx[d] = 0;
                d--;
            }
            if (d < 0) {
                return;
            }
        }
    }
}
