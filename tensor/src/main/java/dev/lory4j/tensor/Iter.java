package dev.lory4j.tensor;

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
        int n = cs[r - 1];
        int[] incs = new int[ops];
        for (int k = 0; k < ops; k++) {
            incs[k] = cst[k][r - 1];
        }
        int[] off = offsets.clone();
        int[] idx = new int[r];
        int[] cur = off.clone();
        while (true) {
            System.arraycopy(off, 0, cur, 0, ops);
            fn.row(cur, n, incs);
            // Odometer over the outer dims r-2 .. 0.
            int d = r - 2;
            while (d >= 0) {
                idx[d]++;
                for (int k = 0; k < ops; k++) {
                    off[k] += cst[k][d];
                }
                if (idx[d] < cs[d]) {
                    break;
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
