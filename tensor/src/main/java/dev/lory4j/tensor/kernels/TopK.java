package dev.lory4j.tensor.kernels;

import java.util.Arrays;

/**
 * Top-k masks of the lines of a contiguous [lines, len] array: element i of a line is kept (1) when fewer than k
 * elements j of its line are greater, or equal with j &lt; i; else 0. Short lines count ranks directly (the rule
 * itself); long lines sort (value descending, index ascending), which keeps the same elements for every value
 * but NaN.
 */
public final class TopK {
    private static final int COUNT_BELOW = 32;

    private TopK() {}

    /** Writes the mask of each of the {@code lines} lines of x[off ..] into out[0 ..]. */
    public static void maskLines(float[] x, int off, float[] out, int lines, int len, int k) {
        long[] keys = len >= COUNT_BELOW ? new long[len] : null;
        for (int l = 0; l < lines; l++) {
            int base = off + l * len;
            int ob = l * len;
            if (keys == null) {
                for (int i = 0; i < len; i++) {
                    float v = x[base + i];
                    int rank = 0;
                    for (int j = 0; j < len && rank < k; j++) {
                        float w = x[base + j];
                        if (w > v || (w == v && j < i)) {
                            rank++;
                        }
                    }
                    out[ob + i] = rank < k ? 1f : 0f;
                }
            } else {
                for (int i = 0; i < len; i++) {
                    int bits = Float.floatToIntBits(x[base + i] + 0f); // -0 as +0: they tie
                    int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
                    keys[i] = ((long) ~ascending << 32) | i;
                }
                Arrays.sort(keys);
                Arrays.fill(out, ob, ob + len, 0f);
                for (int r = 0; r < Math.min(k, len); r++) {
                    out[ob + (int) keys[r]] = 1f;
                }
            }
        }
    }
}
