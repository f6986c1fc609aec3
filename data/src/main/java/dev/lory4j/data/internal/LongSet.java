package dev.lory4j.data.internal;

import java.util.function.LongConsumer;

/** A set of longs without boxing. */
public final class LongSet extends LongHash {
    /** An empty set. */
    public LongSet() {
        super(16);
    }

    @Override
    void valuesResized(int capacity) {}

    @Override
    void move(Object old, int from, int to) {}

    @Override
    Object values() {
        return null;
    }

    /** Adds k. */
    public void add(long k) {
        slot(k);
    }

    /** Whether k is in the set. */
    public boolean contains(long k) {
        return find(k) >= 0;
    }

    /** Removes every key. */
    public void clear() {
        java.util.Arrays.fill(used, false);
        size = 0;
    }

    /** Calls c for every key (in slot order). */
    public void forEach(LongConsumer c) {
        for (int i = 0; i < keys.length; i++) {
            if (used[i]) {
                c.accept(keys[i]);
            }
        }
    }
}
