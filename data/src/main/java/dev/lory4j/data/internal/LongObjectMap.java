package dev.lory4j.data.internal;

import java.util.function.Supplier;

/** A map from long keys to objects without boxing the keys. */
public final class LongObjectMap<V> extends LongHash {
    private Object[] vals;

    /** An empty map. */
    public LongObjectMap() {
        super(16);
    }

    @Override
    void valuesResized(int capacity) {
        vals = new Object[capacity];
    }

    @Override
    void move(Object old, int from, int to) {
        Object[] o = (Object[]) old;
        vals[to] = o[from];
        if (o == vals) {
            vals[from] = null;
        }
    }

    @Override
    Object values() {
        return vals;
    }

    /** The value of k; when absent, puts {@code make.get()} first. */
    @SuppressWarnings("unchecked")
    public V getIfAbsentPut(long k, Supplier<V> make) {
        int before = size;
        int i = slot(k);
        if (size > before) {
            vals[i] = make.get();
        }
        return (V) vals[i];
    }

    /** Removes k and returns its value, or null. */
    @SuppressWarnings("unchecked")
    public V remove(long k) {
        int i = find(k);
        if (i < 0) {
            return null;
        }
        V v = (V) vals[i];
        vals[i] = null;
        removeAt(i);
        return v;
    }
}
