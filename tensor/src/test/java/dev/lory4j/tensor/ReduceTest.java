package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReduceTest {

    /** Reference reduction in double by walking every element. */
    private static double[] reference(ReduceOp op, Tensor x, int[] axes) {
        int[] s = x.shape();
        boolean[] red = new boolean[s.length];
        for (int a : axes) {
            red[a] = true;
        }
        int[] os = s.clone();
        for (int d = 0; d < s.length; d++) {
            if (red[d]) {
                os[d] = 1;
            }
        }
        int outN = Shapes.numel(os);
        double[] acc = new double[outN];
        int[] cnt = new int[outN];
        java.util.Arrays.fill(acc, op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY
                : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0);
        int[] ost = Shapes.contiguousStrides(os);
        Ref.forEach(s, idx -> {
            int o = 0;
            for (int d = 0; d < s.length; d++) {
                o += (red[d] ? 0 : idx[d]) * ost[d];
            }
            double v = x.get(idx);
            acc[o] = switch (op) {
                case SUM, MEAN -> acc[o] + v;
                case MAX -> Math.max(acc[o], v);
                case MIN -> Math.min(acc[o], v);
            };
            cnt[o]++;
        });
        if (op == ReduceOp.MEAN) {
            for (int i = 0; i < outN; i++) {
                acc[i] /= cnt[i];
            }
        }
        return acc;
    }

    private static List<int[]> subsets(int rank) {
        List<int[]> out = new ArrayList<>();
        for (int mask = 1; mask < (1 << rank); mask++) {
            int[] a = new int[Integer.bitCount(mask)];
            for (int d = 0, k = 0; d < rank; d++) {
                if ((mask & (1 << d)) != 0) {
                    a[k++] = d;
                }
            }
            out.add(a);
        }
        return out;
    }

    @Test
    void everyAxisSubsetMatchesReference() {
        Random r = new Random(7);
        for (int trial = 0; trial < 12; trial++) {
            int rank = 1 + r.nextInt(4);
            int[] shape = Ref.shape(r, rank, trial < 6 ? 5 : 19);
            Tensor x = Ref.random(r, shape);
            if (trial % 3 == 2) {
                x = Ref.strided(x);
            }
            for (int[] axes : subsets(rank)) {
                for (ReduceOp op : ReduceOp.values()) {
                    double[] want = reference(op, x, axes);
                    int[] keep = x.shape();
                    for (int a : axes) {
                        keep[a] = 1;
                    }
                    // Float accumulation of up to ~1e4 values in [-1,1]: error <= n * 2^-24 * n-ish; 1e-4 abs is ample.
                    Ref.assertClose(x.reduce(op, true, axes), want, keep, 1e-5, 1e-4);
                    int[] drop = java.util.Arrays.stream(java.util.stream.IntStream.range(0, rank).toArray())
                            .filter(d -> java.util.Arrays.stream(axes).noneMatch(a -> a == d)).map(d -> keep[d])
                            .toArray();
                    Ref.assertClose(x.reduce(op, false, axes), want, drop, 1e-5, 1e-4);
                }
            }
        }
    }

    @Test
    void largeLeadingAxisSumUsesColumnPathCorrectly() {
        Random r = new Random(8);
        Tensor x = Ref.random(r, 300, 257);
        double[] want = reference(ReduceOp.SUM, x, new int[] {0});
        Ref.assertClose(x.sum(false, 0), want, new int[] {257}, 1e-5, 1e-4);
        Ref.assertClose(x.max(false, 0), reference(ReduceOp.MAX, x, new int[] {0}), new int[] {257}, 0, 0);
        Tensor big = Ref.random(r, 70_001);
        assertThat((double) big.sum().item()).isCloseTo(reference(ReduceOp.SUM, big, new int[] {0})[0],
                org.assertj.core.data.Offset.offset(1e-2));
    }

    @Test
    void negativeAxesAllAxesAndScalars() {
        Tensor x = Tensor.arange(24).reshape(2, 3, 4);
        assertThat(x.sum(false, -1).toArray()).containsExactly(6, 22, 38, 54, 70, 86);
        assertThat(x.sum().item()).isEqualTo(276f);
        assertThat(x.mean().item()).isEqualTo(11.5f);
        assertThat(x.max().item()).isEqualTo(23f);
        assertThat(x.min(true, 0, 2).shape()).containsExactly(1, 3, 1);
        assertThat(Tensor.scalar(3).sum().item()).isEqualTo(3f);
        assertThat(Tensor.zeros(0, 3).sum(false, 0).toArray()).containsExactly(0, 0, 0);
        assertThat(Tensor.zeros(0, 3).mean(false, 0).toArray()[0]).isNaN();
    }

    @Test
    void varianceWithCorrection() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4, 10, 20, 30, 40}, 2, 4);
        assertThat(x.var(false, 1, 1).toArray()).containsExactly(5f / 3, 500f / 3);
        assertThat(x.var(false, 0, 1).toArray()).containsExactly(1.25f, 125f);
        assertThat(x.var(true, 1).shape()).containsExactly(1, 1);
        assertThatThrownBy(() -> Tensor.ones(1).var(false, 1)).hasMessage("var: 1 elements with correction 1 in shape [1]");
    }

    @Test
    void argmaxTakesFirstOfTiesAndWorksOnAnyAxis() {
        Tensor x = Tensor.fromArray(new float[] {1, 5, 5, 0, 9, 2}, 2, 3);
        assertThat(x.argmax(1, false).toArray()).containsExactly(1, 1);
        assertThat(x.argmax(0, true).toArray()).containsExactly(0, 1, 0);
        assertThat(x.argmax(0, true).shape()).containsExactly(1, 3);
        assertThat(x.argmin(1, false).toArray()).containsExactly(0, 0);
        Random r = new Random(9);
        Tensor y = Ref.random(r, 7, 37);
        float[] a = y.argmax(1, false).toArray();
        for (int i = 0; i < 7; i++) {
            int best = 0;
            for (int j = 1; j < 37; j++) {
                if (y.get(i, j) > y.get(i, best)) {
                    best = j;
                }
            }
            assertThat(a[i]).isEqualTo(best);
        }
        assertThatThrownBy(() -> Tensor.zeros(2, 0).argmax(1, false))
                .hasMessage("argmax: axis 1 of shape [2,0] is empty");
    }

    @Test
    void badAxesAreNamed() {
        Tensor x = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> x.sum(false, 2)).hasMessage("sum: axis 2 out of range for shape [2,3] (rank 2)");
        assertThatThrownBy(() -> x.sum(false, 1, -1)).hasMessage("sum: axis -1 given twice in [1, -1] for shape [2,3]");
        assertThatThrownBy(() -> x.sum(false)).hasMessageStartingWith("sum: no axes given");
        assertThatThrownBy(() -> Tensor.zeros(0, 2).max(false, 0))
                .hasMessage("max: empty reduction over axes [0] of shape [0,2] has no identity");
    }
}
