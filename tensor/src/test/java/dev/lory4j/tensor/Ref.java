package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;

/** Plain reference helpers for tests: random tensors and views, index walking, and closeness checks. */
final class Ref {
    private Ref() {}

    /** Uniform values in [-1, 1) of the given shape (never all zeros). */
    static Tensor random(Random r, int... shape) {
        float[] d = new float[Shapes.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.wrap(d, shape);
    }

    /** A random shape of the given rank with dimensions in [1, max]. */
    static int[] shape(Random r, int rank, int max) {
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) {
            s[i] = 1 + r.nextInt(max);
        }
        return s;
    }

    /** The same values as {@code t} but laid out non-contiguously (a transposed copy viewed back). */
    static Tensor strided(Tensor t) {
        if (t.rank() == 0) {
            return t;
        }
        if (t.rank() == 1) { // every other element of a buffer twice as long
            Tensor view = Tensor.zeros(2 * t.numel()).slice(0, 0, 2 * t.numel(), 2);
            return view.copyFrom(t);
        }
        Tensor tt = t.transpose(0, t.rank() - 1).contiguous();
        Tensor back = tt.transpose(0, t.rank() - 1);
        assertThat(back.toArray()).containsExactly(t.toArray());
        return back;
    }

    /** Calls fn for every multi-index of shape, in row-major order. */
    static void forEach(int[] shape, java.util.function.Consumer<int[]> fn) {
        int n = Shapes.numel(shape);
        int[] idx = new int[shape.length];
        for (int k = 0; k < n; k++) {
            fn.accept(idx.clone());
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    /** Asserts equal shapes and |actual - expected| <= atol + rtol * |expected| everywhere. */
    static void assertClose(Tensor actual, double[] expected, int[] shape, double rtol, double atol) {
        assertThat(actual.shape()).as("shape").containsExactly(shape);
        float[] a = actual.toArray();
        for (int i = 0; i < a.length; i++) {
            double e = expected[i];
            boolean ok = Double.isNaN(e) ? Float.isNaN(a[i])
                    : Double.isInfinite(e) ? a[i] == e
                    : Math.abs(a[i] - e) <= atol + rtol * Math.abs(e);
            if (!ok) { // AssertJ only on failure: building millions of assertions is slow
                assertThat((double) a[i]).as("element %d of %d (shape %s)", i, a.length, Shapes.str(shape))
                        .isCloseTo(e, org.assertj.core.data.Offset.offset(atol + rtol * Math.abs(e)));
                assertThat(a[i]).as("element %d of %d (shape %s), expected %s", i, a.length, Shapes.str(shape), e)
                        .isEqualTo((float) e);
            }
        }
    }

    /** Asserts the same shape and values within tolerance. */
    static void assertClose(Tensor actual, Tensor expected, double rtol, double atol) {
        float[] e = expected.toArray();
        double[] d = new double[e.length];
        for (int i = 0; i < e.length; i++) {
            d[i] = e[i];
        }
        assertClose(actual, d, expected.shape(), rtol, atol);
    }
}
