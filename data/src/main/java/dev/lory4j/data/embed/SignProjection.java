package dev.lory4j.data.embed;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * A seeded random-sign projection from {@code 2^bits} sparse features to {@code dim} dense dimensions:
 * feature {@code f} adds {@code ±w} to every output dimension, the signs being the bits of
 * {@code signs[f * dim/64 ..]} (SplitMix64 of seed and position). By Johnson-Lindenstrauss the dense cosine
 * approximates the sparse one. The signs are stored as bits (dim/8 bytes per feature) and applied with
 * Vector-API masked blends, so a feature costs {@code dim / lanes} vector additions.
 */
final class SignProjection {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private final int dim;
    private final int wordsPerRow;
    private final long[] signs;

    SignProjection(int bits, int dim, long seed) {
        if (dim % 64 != 0 || dim <= 0) {
            throw new IllegalArgumentException("SignProjection: dim " + dim + " must be a positive multiple of 64");
        }
        this.dim = dim;
        this.wordsPerRow = dim / 64;
        this.signs = new long[(1 << bits) * wordsPerRow];
        for (int i = 0; i < signs.length; i++) {
            signs[i] = mix(seed + 0x9E3779B97F4A7C15L * (i + 1L));
        }
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code out[0, dim) += Σ_k w[k] · sign(feature[k], ·)} over the first {@code n} features. */
    void accumulate(int[] features, float[] weights, int n, float[] out) {
        for (int k = 0; k < n; k++) {
            float w = weights[k];
            int base = features[k] * wordsPerRow;
            FloatVector pos = FloatVector.broadcast(S, w);
            FloatVector neg = FloatVector.broadcast(S, -w);
            if (L <= 64) {
                long laneMask = L == 64 ? -1L : (1L << L) - 1;
                for (int j = 0; j < dim; j += L) {
                    long word = signs[base + (j >>> 6)];
                    long bits = (word >>> (j & 63)) & laneMask;
                    VectorMask<Float> m = VectorMask.fromLong(S, bits);
                    FloatVector acc = FloatVector.fromArray(S, out, j);
                    neg.blend(pos, m).add(acc).intoArray(out, j);
                }
            } else { // lanes wider than 64 bits: not on any current CPU; plain loop
                for (int j = 0; j < dim; j++) {
                    out[j] += ((signs[base + (j >>> 6)] >>> (j & 63)) & 1) != 0 ? w : -w;
                }
            }
        }
    }
}
