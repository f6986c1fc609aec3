package dev.lory4j.data.internal;

import java.util.Arrays;

/** A growable list of ints (no boxing). */
public final class IntList {
    private int[] a;
    private int n;

    /** An empty list. */
    public IntList() {
        this(8);
    }

    /** An empty list with room for {@code capacity} ints. */
    public IntList(int capacity) {
        a = new int[Math.max(1, capacity)];
    }

    /** Appends v. */
    public void add(int v) {
        if (n == a.length) {
            a = Arrays.copyOf(a, a.length * 2);
        }
        a[n++] = v;
    }

    /** Appends every value of vs. */
    public void addAll(int[] vs) {
        if (n + vs.length > a.length) {
            a = Arrays.copyOf(a, Math.max(a.length * 2, n + vs.length));
        }
        System.arraycopy(vs, 0, a, n, vs.length);
        n += vs.length;
    }

    /** The value at i (checked). */
    public int get(int i) {
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("IntList: index " + i + " of " + n);
        }
        return a[i];
    }

    /** The last value (the list must not be empty). */
    public int getLast() {
        return get(n - 1);
    }

    /** How many values. */
    public int size() {
        return n;
    }

    /** Whether there are none. */
    public boolean isEmpty() {
        return n == 0;
    }

    /** The values as a new array. */
    public int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
