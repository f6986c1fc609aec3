package dev.lory4j.data.internal;

/** A map from long keys to int values without boxing. */
public final class LongIntMap extends LongHash {
    private int[] vals;

    /** An empty map. */
    public LongIntMap() {
        super(16);
    }

    @Override
    void valuesResized(int capacity) {
        vals = new int[capacity];
    }

    @Override
    void move(Object old, int from, int to) {
        vals[to] = ((int[]) old)[from];
    }

    @Override
    Object values() {
        return vals;
    }

    /** The value of k, or {@code absent}. */
    public int getIfAbsent(long k, int absent) {
        int i = find(k);
        return i < 0 ? absent : vals[i];
    }

    /** The value of k; when absent, puts {@code value} first. */
    public int getIfAbsentPut(long k, int value) {
        int before = size;
        int i = slot(k);
        if (size > before) {
            vals[i] = value;
        }
        return vals[i];
    }
}
