package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class IndexingTest {

    @Test
    void embeddingLookupAndItsGradientAccumulate() {
        Tensor w = Tensor.arange(12).reshape(4, 3);
        int[] tokens = {2, 0, 2};
        Tensor e = w.indexSelect(0, tokens);
        assertThat(e.toArray()).containsExactly(6, 7, 8, 0, 1, 2, 6, 7, 8);
        Tensor g = Tensor.zeros(4, 3).indexAdd(0, tokens, Tensor.ones(3, 3));
        assertThat(g.toArray()).containsExactly(1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0);
        assertThat(w.indexSelect(1, new int[] {2, 2}).toArray()).containsExactly(2, 2, 5, 5, 8, 8, 11, 11);
        assertThatThrownBy(() -> w.indexSelect(0, new int[] {4})).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("indexSelect: index 4 out of range for axis 0 of size 4 in shape [4,3]");
        assertThatThrownBy(() -> w.indexAdd(0, tokens, Tensor.ones(2, 3)))
                .hasMessage("indexAdd: source shape [2,3] should be [3,3] for 3 indices into shape [4,3]");
    }

    @Test
    void gatherAndScatterAddAreAdjoint() {
        Random r = new Random(31);
        Tensor x = Ref.random(r, 5, 7);
        int[] idx = new int[5 * 3];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = r.nextInt(7);
        }
        Tensor g = x.gather(1, idx, 5, 3);
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 3; j++) {
                assertThat(g.get(i, j)).isEqualTo(x.get(i, idx[i * 3 + j]));
            }
        }
        // <gather(x), y> == <x, scatterAdd(y)>: the adjoint identity the autograd backward relies on.
        Tensor y = Ref.random(r, 5, 3);
        float lhs = g.mul(y).sum().item();
        float rhs = x.mul(Tensor.zeros(5, 7).scatterAdd(1, idx, new int[] {5, 3}, y)).sum().item();
        assertThat(lhs).isCloseTo(rhs, org.assertj.core.data.Offset.offset(1e-5f));
        Tensor xt = Ref.strided(x);
        assertThat(xt.gather(1, idx, 5, 3).toArray()).containsExactly(g.toArray());
        assertThatThrownBy(() -> x.gather(1, new int[] {7}, 1, 1))
                .hasMessage("gather: index 7 out of range for axis 1 of size 7 in shape [5,7]");
        assertThatThrownBy(() -> x.gather(1, new int[] {1, 2}, 1, 1))
                .hasMessage("gather: index shape [1,1] (2 indices) does not fit tensor shape [5,7]");
        assertThatThrownBy(() -> x.gather(1, new int[] {0}, 6, 1).numel())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void concatSplitStackPadChunk() {
        Tensor a = Tensor.arange(6).reshape(2, 3);
        Tensor b = Tensor.arange(6, 10, 1).reshape(2, 2);
        Tensor c = Tensor.concat(1, a, b);
        assertThat(c.shape()).containsExactly(2, 5);
        assertThat(c.toArray()).containsExactly(0, 1, 2, 6, 7, 3, 4, 5, 8, 9);
        Tensor[] parts = c.split(1, 3, 2);
        assertThat(parts[0].toArray()).containsExactly(a.toArray());
        assertThat(parts[1].toArray()).containsExactly(b.toArray());
        assertThat(c.chunk(0, 2)[1].toArray()).containsExactly(3, 4, 5, 8, 9);
        Tensor s = Tensor.stack(0, a, a.mul(2f));
        assertThat(s.shape()).containsExactly(2, 2, 3);
        assertThat(s.get(1, 1, 2)).isEqualTo(10f);
        assertThat(Tensor.stack(-1, a, a).shape()).containsExactly(2, 3, 2);
        Tensor p = a.pad(new int[] {1, 0}, new int[] {0, 2}, -1f);
        assertThat(p.shape()).containsExactly(3, 5);
        assertThat(p.toArray()).containsExactly(-1, -1, -1, -1, -1, 0, 1, 2, -1, -1, 3, 4, 5, -1, -1);
        assertThatThrownBy(() -> Tensor.concat(0, a, b))
                .hasMessage("concat: shapes [2,3] and [2,2] differ in dimension 1 (concat axis 0)");
        assertThatThrownBy(() -> c.split(1, 3, 3)).hasMessage("split: sizes [3, 3] add up to 6 but axis 1 of shape [2,5] has 5");
        assertThatThrownBy(() -> Tensor.stack(0, a, b)).hasMessage("stack: shapes [2,3] and [2,2] differ");
        assertThatThrownBy(() -> c.chunk(1, 2)).hasMessage("chunk: axis 1 of shape [2,5] cannot be split into 2 equal pieces");
        assertThatThrownBy(() -> a.pad(new int[] {1}, new int[] {1}, 0f))
                .hasMessage("pad: need 2 before/after sizes for shape [2,3], got 1 and 1");
    }
}
