package dev.lory4j.autograd.nn;

import dev.lory4j.tensor.Tensor;

/** Keys and values of earlier positions for one attention layer, [B, H, L, D] each, grown by each step. */
public final class KvCache {
    private Tensor keys;
    private Tensor values;

    /** Number of cached positions. */
    public int length() {
        return keys == null ? 0 : keys.dim(2);
    }

    /** Appends new keys/values and returns all of them {keys, values}. */
    public Tensor[] append(Tensor k, Tensor v) {
        keys = keys == null ? k.contiguous() : Tensor.concat(2, keys, k);
        values = values == null ? v.contiguous() : Tensor.concat(2, values, v);
        return new Tensor[] {keys, values};
    }

    /** Forgets everything. */
    public void clear() {
        keys = null;
        values = null;
    }
}
