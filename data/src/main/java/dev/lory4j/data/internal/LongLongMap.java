package dev.lory4j.data.internal;

/** A map from long keys to long values without boxing. */
public final class LongLongMap extends LongHash {
    private long[] vals;

    /** A callback over the entries. */
    @FunctionalInterface
    public interface Visitor {
        /** One entry. */
        void accept(long key, long value);
    }

    /** An empty map. */
    public LongLongMap() {
        super(16);
    }

    @Override
    void valuesResized(int capacity) {
        vals = new long[capacity];
    }

    @Override
    void move(Object old, int from, int to) {
        vals[to] = ((long[]) old)[from];
    }

    @Override
    Object values() {
        return vals;
    }

    /** The value of k, or {@code absent}. */
    public long getIfAbsent(long k, long absent) {
        int i = find(k);
        return i < 0 ? absent : vals[i];
    }

    /** Adds delta to the value of k (0 when absent) and returns the new value. */
    public long addToValue(long k, long delta) {
        int before = size;
        int i = slot(k);
        if (size > before) {
            vals[i] = 0;
        }
        vals[i] += delta;
        return vals[i];
    }

    /** Removes k if present. */
    public void remove(long k) {
        int i = find(k);
        if (i >= 0) {
            removeAt(i);
        }
    }

    /** Calls v for every entry (in slot order). */
    public void forEachKeyValue(Visitor v) {
        for (int i = 0; i < keys.length; i++) {
            if (used[i]) {
                v.accept(keys[i], vals[i]);
            }
        }
    }
}
