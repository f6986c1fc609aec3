package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TopKMaskTest {

    /** The rule itself, element by element: kept when fewer than k of its line are greater, or equal and earlier. */
    private static float[] reference(Tensor x, int axis, int k) {
        int[] s = x.shape();
        int[] st = Shapes.contiguousStrides(s);
        float[] out = new float[x.numel()];
        Ref.forEach(s, idx -> {
            float v = x.get(idx);
            int rank = 0;
            int[] j = idx.clone();
            for (int q = 0; q < s[axis]; q++) {
                j[axis] = q;
                float w = x.get(j);
                if (w > v || (w == v && q < idx[axis])) {
                    rank++;
                }
            }
            int o = 0;
            for (int d = 0; d < s.length; d++) {
                o += idx[d] * st[d];
            }
            out[o] = rank < k ? 1f : 0f;
        });
        return out;
    }

    @Test
    void keepsTheKLargestOfEveryLineOnAnyAxisShortAndLongLines() {
        Random r = new Random(3);
        // Lines of 7 count ranks; lines of 37 and 70 sort: both agree with the rule, ties and -0 included.
        for (int[] shape : new int[][] {{5, 7}, {37, 3}, {2, 70, 3}, {1, 1}}) {
            float[] v = new float[Shapes.numel(shape)];
            for (int i = 0; i < v.length; i++) {
                v[i] = r.nextInt(4) == 0 ? (r.nextBoolean() ? 0f : -0f) : r.nextInt(9) - 4 + (r.nextBoolean() ? 0.5f : 0f);
            }
            Tensor x = Tensor.wrap(v, shape);
            for (int axis = 0; axis < shape.length; axis++) {
                for (int k : new int[] {0, 1, 2, shape[axis] - 1, shape[axis], shape[axis] + 3}) {
                    Tensor m = x.topKMask(axis, Math.max(k, 0));
                    assertThat(m.shape()).isEqualTo(shape);
                    assertThat(m.contiguous().toArray()).as("shape %s axis %d k %d", Shapes.str(shape), axis, k)
                            .containsExactly(reference(x, axis, Math.max(k, 0)));
                    Tensor count = m.sum(false, axis);
                    for (float c : count.toArray()) {
                        assertThat(c).isEqualTo((float) Math.min(Math.max(k, 0), shape[axis]));
                    }
                }
            }
        }
    }

    @Test
    void stridedViewsAndNegativeAxes() {
        Tensor x = new Rng(4).normal(0f, 1f, 6, 9).t(); // [9, 6], transposed view
        assertThat(x.topKMask(-1, 2).toArray()).containsExactly(reference(x.contiguous(), 1, 2));
        assertThat(x.topKMask(0, 3).toArray()).containsExactly(reference(x.contiguous(), 0, 3));
    }

    @Test
    void badArgumentsNameTheOp() {
        Tensor x = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> x.topKMask(2, 1)).hasMessageContaining("topKMask");
        assertThatThrownBy(() -> x.topKMask(1, -1)).hasMessageContaining("topKMask").hasMessageContaining("k -1");
    }
}
