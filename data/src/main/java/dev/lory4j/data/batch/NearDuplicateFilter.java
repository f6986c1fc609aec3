package dev.lory4j.data.batch;

import java.util.Arrays;
import java.util.List;
import dev.lory4j.data.internal.IntList;

/**
 * Drops near-duplicate neighbours from a document order, as the ICP reference code does after its sort
 * (spec §6.3): walking the order, a document is dropped when the Jaccard similarity of the character
 * 3-gram sets of its first {@code prefixChars} characters and of the previously <em>kept</em> document's
 * exceeds {@code threshold}. The ICP code uses 100 characters and 0.85; the default here reads 2,000
 * characters, because many distinct documents share a formulaic opening (the addresses of one era, licence
 * preambles) and 100 characters would drop them.
 *
 * @param threshold   Jaccard similarity above which a document is dropped (in [0, 1])
 * @param prefixChars characters of each document that are compared (positive)
 */
public record NearDuplicateFilter(double threshold, int prefixChars) {
    /** Checks the values. */
    public NearDuplicateFilter {
        if (!(threshold >= 0 && threshold <= 1)) {
            throw new IllegalArgumentException("NearDuplicateFilter: threshold " + threshold + " not in [0, 1]");
        }
        if (prefixChars <= 0) {
            throw new IllegalArgumentException("NearDuplicateFilter: prefixChars " + prefixChars + " must be positive");
        }
    }

    /** Threshold 0.85 on the first 2,000 characters. */
    public static NearDuplicateFilter defaults() {
        return new NearDuplicateFilter(0.85, 2_000);
    }

    /**
     * The outcome.
     *
     * @param kept    the order without the dropped documents
     * @param dropped the dropped documents (indices into the text list), in order
     */
    public record Result(int[] kept, int[] dropped) {
    }

    /** Filters {@code order} (indices into {@code texts}). */
    public Result filter(int[] order, List<String> texts) {
        IntList kept = new IntList(order.length);
        IntList dropped = new IntList();
        int[] prev = null;
        for (int d : order) {
            int[] grams = trigrams(texts.get(d));
            if (prev != null && jaccard(prev, grams) > threshold) {
                dropped.add(d);
                continue;
            }
            kept.add(d);
            prev = grams;
        }
        return new Result(kept.toArray(), dropped.toArray());
    }

    /** The sorted distinct hashes of the character 3-grams of the first {@code prefixChars} characters. */
    int[] trigrams(String text) {
        int n = Math.min(text.length(), prefixChars);
        if (n < 3) {
            return new int[] {text.substring(0, n).hashCode()};
        }
        int[] g = new int[n - 2];
        for (int i = 0; i + 2 < n; i++) {
            g[i] = (text.charAt(i) * 31 + text.charAt(i + 1)) * 31 + text.charAt(i + 2);
        }
        Arrays.sort(g);
        int m = 0;
        for (int i = 0; i < g.length; i++) {
            if (m == 0 || g[m - 1] != g[i]) {
                g[m++] = g[i];
            }
        }
        return Arrays.copyOf(g, m);
    }

    /** |a ∩ b| / |a ∪ b| of two sorted distinct arrays. */
    static double jaccard(int[] a, int[] b) {
        int i = 0;
        int j = 0;
        int inter = 0;
        while (i < a.length && j < b.length) {
            if (a[i] == b[j]) {
                inter++;
                i++;
                j++;
            } else if (a[i] < b[j]) {
                i++;
            } else {
                j++;
            }
        }
        int union = a.length + b.length - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }

    /** The Jaccard similarity of the 3-gram sets of two texts (under this filter's prefix length). */
    public double similarity(String a, String b) {
        return jaccard(trigrams(a), trigrams(b));
    }
}
