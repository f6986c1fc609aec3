package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.capture.Capture;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.List;

/**
 * Keys and values of earlier positions for one attention layer: two tensors [B, H, C, D] of a fixed capacity C,
 * written in place ({@link Capture#assign}), so that a captured decode step has fixed shapes and keeps its cache on
 * a device. The first append (position 0) writes the whole cache (its tokens, zeros after them); a later one adds its
 * tokens into the empty slots at their positions; attention reads slots up to each token's position only.
 */
public final class KvCache {
    private final int capacity;
    private Tensor keys;
    private Tensor values;
    /** Slot numbers 0..C-1: [1, C] (to compare with positions) and [C, 1] (to look positions up as values). */
    private Tensor slotRow;
    private Tensor slotColumn;
    private int length;
    private int[] positions;

    /** An empty cache of {@code capacity} positions (its tensors made at the first append or by {@link #allocate}). */
    public KvCache(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("KvCache: capacity " + capacity + " must be positive");
        }
        this.capacity = capacity;
    }

    /** Makes the cache's tensors for a batch of B rows and H heads of size D now (zeros; kept across clears). */
    public KvCache allocate(int batch, int heads, int headDim) {
        if (keys == null || keys.dim(0) != batch || keys.dim(1) != heads || keys.dim(3) != headDim) {
            keys = Tensor.zeros(batch, heads, capacity, headDim);
            values = Tensor.zeros(batch, heads, capacity, headDim);
            keys.storage().markResident();
            values.storage().markResident();
            float[] slots = new float[capacity];
            for (int j = 0; j < capacity; j++) {
                slots[j] = j;
            }
            slotRow = Tensor.wrap(slots, 1, capacity);
            slotColumn = Tensor.wrap(slots.clone(), capacity, 1);
        }
        return this;
    }

    /** The state a captured step carries from run to run: the keys and values tensors (null before allocation). */
    public List<Tensor> state() {
        return keys == null ? List.of() : List.of(keys, values);
    }

    /** Number of cached positions. */
    public int length() {
        return length;
    }

    /** The positions the cache holds at most. */
    public int capacity() {
        return capacity;
    }

    /**
     * Sets the number of cached positions: for a caller that replays captured steps (which do not run this class),
     * before each step.
     */
    public void seek(int cached) {
        if (cached < 0 || cached > capacity) {
            throw new IllegalArgumentException("KvCache: position " + cached + " outside the capacity " + capacity);
        }
        length = cached;
    }

    /** Forgets everything (the next append starts at position 0). */
    public void clear() {
        length = 0;
    }

    /** The positions of the tokens of the next append (set by {@link DecoderLM}; an input of a captured step). */
    int[] positions() {
        return positions;
    }

    void setPositions(int[] positions) {
        this.positions = positions;
    }

    /**
     * Writes k and v [B, H, L, D] at this append's positions (length .. length+L-1) and returns {keys, values}
     * [B, H, C, D] after the write.
     */
    Tensor[] append(Tensor k, Tensor v) {
        int len = k.dim(2);
        if (length + len > capacity) {
            throw new IllegalArgumentException("KvCache: " + len + " new positions after " + length + " exceed the "
                    + "capacity " + capacity);
        }
        allocate(k.dim(0), k.dim(1), k.dim(3));
        if (!java.util.Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException("KvCache: keys " + Shapes.str(k.shape()) + " and values "
                    + Shapes.str(v.shape()) + " differ");
        }
        Tensor newKeys;
        Tensor newValues;
        if (length == 0) { // the whole cache: these positions, then empty slots
            int[] none = {0, 0, 0, 0};
            int[] after = {0, 0, capacity - len, 0};
            newKeys = k.pad(none, after, 0f);
            newValues = v.pad(none, after, 0f);
        } else { // into empty slots (zeros since the first append): the sum is the value
            newKeys = keys.indexAdd(2, positions, k);
            newValues = values.indexAdd(2, positions, v);
        }
        Capture.assign(keys, newKeys);
        Capture.assign(values, newValues);
        length += len;
        return new Tensor[] {newKeys, newValues};
    }

    /** 1 where slot j holds a position at or before token i's ({@code positions[i]}): [L, C]. */
    Tensor visible() {
        return slotRow.le(slotColumn.indexSelect(0, positions));
    }
}
