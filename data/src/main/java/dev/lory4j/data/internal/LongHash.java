package dev.lory4j.data.internal;

/**
 * The slots of an open-addressing hash table with long keys (linear probing, backward-shift deletion, load at most
 * one half): the common part of {@link LongLongMap}, {@link LongIntMap}, {@link LongObjectMap} and {@link LongSet}.
 */
abstract class LongHash {
    long[] keys;
    boolean[] used;
    int size;
    private int mask;

    LongHash(int capacity) {
        int c = 16;
        while (c < capacity * 2) {
            c <<= 1;
        }
        allocate(c);
    }

    private void allocate(int c) {
        keys = new long[c];
        used = new boolean[c];
        mask = c - 1;
        valuesResized(c);
    }

    /** Gives the value array(s) of a subclass {@code capacity} slots (their contents are copied by {@link #move}). */
    abstract void valuesResized(int capacity);

    /** Copies the value of old slot {@code from} into new slot {@code to} (during a resize or a shift). */
    abstract void move(Object oldValues, int from, int to);

    /** The subclass's value array(s), to move from. */
    abstract Object values();

    static int mix(long k) {
        long h = k * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** The slot of k, or -1. */
    final int find(long k) {
        for (int i = mix(k) & mask; used[i]; i = (i + 1) & mask) {
            if (keys[i] == k) {
                return i;
            }
        }
        return -1;
    }

    /** The slot of k, made (unset value) if absent. */
    final int slot(long k) {
        int i = mix(k) & mask;
        for (; used[i]; i = (i + 1) & mask) {
            if (keys[i] == k) {
                return i;
            }
        }
        if ((size + 1) * 2 > keys.length) {
            grow();
            return slot(k);
        }
        used[i] = true;
        keys[i] = k;
        size++;
        return i;
    }

    /** Doubles the table, every entry rehashed. */
    private void grow() {
        long[] oldKeys = keys;
        boolean[] oldUsed = used;
        Object oldValues = values();
        allocate(keys.length * 2);
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldUsed[j]) {
                int i = mix(oldKeys[j]) & mask;
                while (used[i]) {
                    i = (i + 1) & mask;
                }
                used[i] = true;
                keys[i] = oldKeys[j];
                move(oldValues, j, i);
            }
        }
    }

    /** Removes the entry at slot i, shifting later entries of its run back. */
    final void removeAt(int i) {
        size--;
        int hole = i;
        for (int j = (i + 1) & mask; used[j]; j = (j + 1) & mask) {
            int home = mix(keys[j]) & mask;
            // j may move into the hole when its home is not in (hole, j] (cyclically)
            boolean stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays) {
                keys[hole] = keys[j];
                move(values(), j, hole);
                hole = j;
            }
        }
        used[hole] = false;
    }

    /** How many keys. */
    public final int size() {
        return size;
    }
}
