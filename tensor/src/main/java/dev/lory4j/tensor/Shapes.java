package dev.lory4j.tensor;

import java.util.Arrays;

/** Static helpers for shapes, strides, axes and the error messages that name them. */
public final class Shapes {
    private Shapes() {}

    /** Number of elements of a shape (1 for a scalar shape {@code []}). */
    public static int numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape " + str(shape) + " has " + n + " elements, more than 2^31-1");
        }
        return (int) n;
    }

    /** Row-major (C-order) strides of a shape. */
    public static int[] contiguousStrides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    /** Formats a shape as {@code [2,3]}. */
    public static String str(int[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(shape[i]);
        }
        return sb.append(']').toString();
    }

    /** Checks that every dimension is non-negative; {@code op} names the caller in the error. */
    public static int[] checkShape(String op, int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(op + ": negative dimension in shape " + str(shape));
            }
        }
        numel(shape);
        return shape.clone();
    }

    /** Turns a possibly negative axis into {@code [0, rank)}, or throws naming the op and the shape. */
    public static int axis(String op, int axis, int rank, int[] shape) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw new IllegalArgumentException(op + ": axis " + axis + " out of range for shape " + str(shape)
                    + " (rank " + rank + ")");
        }
        return a;
    }

    /** Normalised, sorted, duplicate-free axes; an empty array means all axes. */
    public static int[] axes(String op, int[] axes, int[] shape) {
        if (axes.length == 0) {
            int[] all = new int[shape.length];
            Arrays.setAll(all, i -> i);
            return all;
        }
        boolean[] seen = new boolean[shape.length];
        for (int a : axes) {
            int n = axis(op, a, shape.length, shape);
            if (seen[n]) {
                throw new IllegalArgumentException(op + ": axis " + a + " given twice in " + Arrays.toString(axes)
                        + " for shape " + str(shape));
            }
            seen[n] = true;
        }
        int[] out = new int[axes.length];
        int k = 0;
        for (int i = 0; i < seen.length; i++) {
            if (seen[i]) {
                out[k++] = i;
            }
        }
        return out;
    }

    /** NumPy broadcast of two shapes; throws naming {@code op} and both shapes when they are incompatible. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " cannot be broadcast (dimension " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }
}
