package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ViewTest {

    @Test
    void viewsShareStorageAndContiguousCopies() {
        Tensor x = Tensor.arange(24).reshape(2, 3, 4);
        Tensor t = x.transpose(0, 2);
        assertThat(t.shape()).containsExactly(4, 3, 2);
        assertThat(t.strides()).containsExactly(1, 4, 12);
        assertThat(t.isContiguous()).isFalse();
        assertThat(t.get(3, 2, 1)).isEqualTo(x.get(1, 2, 3));
        Tensor c = t.contiguous();
        assertThat(c.isContiguous()).isTrue();
        assertThat(c.storage()).isNotSameAs(x.storage());
        t.set(-1f, 0, 0, 0);
        assertThat(x.get(0, 0, 0)).isEqualTo(-1f);
        assertThat(c.get(0, 0, 0)).isEqualTo(0f);
        assertThat(x.contiguous()).isSameAs(x);
    }

    @Test
    void permuteSliceSelectExpandSqueeze() {
        Tensor x = Tensor.arange(24).reshape(2, 3, 4);
        Tensor p = x.permute(1, 2, 0);
        assertThat(p.shape()).containsExactly(3, 4, 2);
        assertThat(p.get(2, 1, 1)).isEqualTo(x.get(1, 2, 1));
        Tensor s = x.slice(2, 1, 4, 2);
        assertThat(s.shape()).containsExactly(2, 3, 2);
        assertThat(s.toArray()).containsExactly(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23);
        assertThat(x.slice(1, -2, 3).get(0, 0, 0)).isEqualTo(4f);
        assertThat(x.select(1, -1).toArray()).containsExactly(8, 9, 10, 11, 20, 21, 22, 23);
        Tensor col = Tensor.arange(3).reshape(3, 1);
        Tensor e = col.expand(2, 3, 4);
        assertThat(e.strides()).containsExactly(0, 1, 0);
        assertThat(e.get(1, 2, 3)).isEqualTo(2f);
        assertThat(e.sum().item()).isEqualTo(24f);
        assertThat(col.unsqueeze(0).shape()).containsExactly(1, 3, 1);
        assertThat(col.unsqueeze(-1).shape()).containsExactly(3, 1, 1);
        assertThat(col.squeeze(1).shape()).containsExactly(3);
        assertThat(x.flatten().shape()).containsExactly(24);
        assertThat(x.reshape(4, -1).shape()).containsExactly(4, 6);
        assertThat(x.transpose(0, 1).reshape(-1).get(4)).isEqualTo(12f); // non-contiguous reshape copies
    }

    @Test
    void viewErrorsNameOpAndShape() {
        Tensor x = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> x.reshape(4, 2)).hasMessage("reshape: cannot reshape [2,3] (6 elements) to [4,2] (8 elements)");
        assertThatThrownBy(() -> x.reshape(-1, -1)).hasMessage("reshape: more than one -1 in [-1,-1]");
        assertThatThrownBy(() -> x.t().view(6)).hasMessageStartingWith("view: tensor of shape [3,2] with strides [1,3] is not contiguous");
        assertThatThrownBy(() -> x.transpose(0, 2)).hasMessage("transpose: axis 2 out of range for shape [2,3] (rank 2)");
        assertThatThrownBy(() -> x.permute(0, 0)).hasMessage("permute: axis 0 repeated in [0, 0]");
        assertThatThrownBy(() -> x.slice(1, 2, 5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("slice: range [2, 5) step 1 invalid for axis 1 of size 3 in shape [2,3]");
        assertThatThrownBy(() -> x.select(0, 2)).hasMessage("select: index 2 out of range for axis 0 of size 2 in shape [2,3]");
        assertThatThrownBy(() -> x.expand(2, 4)).hasMessage("expand: shape [2,3] cannot be expanded to [2,4] (dimension 1: 3 vs 4)");
        assertThatThrownBy(() -> x.squeeze(0)).hasMessage("squeeze: dimension 0 of shape [2,3] has size 2, not 1");
        assertThatThrownBy(() -> x.get(0, 3)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("get: index 3 out of range for dimension 1 of size 3 in shape [2,3]");
        assertThatThrownBy(() -> x.get(0)).hasMessage("get: 1 indices for shape [2,3]");
        assertThatThrownBy(() -> Tensor.fromArray(new float[5], 2, 3)).hasMessage("fromArray: shape [2,3] holds 6 values but the array has 5");
        assertThatThrownBy(() -> Tensor.zeros(2, -1)).hasMessage("zeros: negative dimension in shape [2,-1]");
        assertThatThrownBy(() -> x.item()).hasMessage("item: tensor of shape [2,3] has 6 elements, not 1");
        assertThatThrownBy(() -> Tensor.of(new Storage(new float[4]), new int[] {2, 3}, new int[] {3, 1}, 0))
                .hasMessage("Tensor.of: shape [2,3] strides [3,1] offset 0 reach outside a storage of 4 floats");
    }

    @Test
    void creation() {
        assertThat(Tensor.arange(0, 1, 0.25f).toArray()).containsExactly(0, 0.25f, 0.5f, 0.75f);
        assertThat(Tensor.arange(3, 0, -1).toArray()).containsExactly(3, 2, 1);
        assertThat(Tensor.full(2.5f, 2, 2).toArray()).containsOnly(2.5f);
        assertThat(Tensor.ones(0).numel()).isZero();
        assertThat(Tensor.scalar(4).rank()).isZero();
        assertThat(Tensor.fromRows(new float[] {1, 2}, new float[] {3, 4}).get(1, 0)).isEqualTo(3f);
        assertThatThrownBy(() -> Tensor.arange(0, 1, 0)).hasMessageStartingWith("arange: start 0.0, end 1.0, step 0.0");
        assertThatThrownBy(() -> Tensor.fromRows(new float[] {1, 2}, new float[] {3})).hasMessage("fromRows: row 1 has 1 values, row 0 has 2");
    }

    @Test
    void toStringIsReadable() {
        Tensor x = Tensor.fromArray(new float[] {1, -2.5f, 3, 4}, 2, 2);
        assertThat(x.toString()).isEqualTo("tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]], shape=[2,2])");
        assertThat(Tensor.scalar(0.5f).toString()).isEqualTo("tensor(0.5000, shape=[])");
        assertThat(Tensor.fromArray(new float[] {1e-6f, 1}, 2).toString()).isEqualTo("tensor([1.0000e-06, 1.0000e+00], shape=[2])");
        String big = Tensor.arange(2000).toString();
        assertThat(big).contains("...").endsWith("shape=[2000])").hasSizeLessThan(200);
        assertThat(Tensor.arange(8).reshape(2, 2, 2).toString()).contains("],\n\n        [[");
    }

    @Property(tries = 60)
    void reshapeOfTransposeEqualsReshapeOfContiguousCopy(@ForAll @IntRange(min = 1, max = 6) int a,
                                                        @ForAll @IntRange(min = 1, max = 6) int b,
                                                        @ForAll @IntRange(min = 1, max = 6) int c,
                                                        @ForAll long seed) {
        Tensor x = Ref.random(new Random(seed), a, b, c);
        Tensor t = x.permute(2, 0, 1);
        assertThat(t.reshape(-1).toArray()).containsExactly(t.contiguous().toArray());
        assertThat(t.contiguous().permute(1, 2, 0).toArray()).containsExactly(x.toArray());
    }

    @Property(tries = 60)
    void broadcastAddIsCommutativeAndMatchesExpandedAdd(@ForAll @IntRange(min = 1, max = 5) int a,
                                                         @ForAll @IntRange(min = 1, max = 5) int b,
                                                         @ForAll boolean dropLead, @ForAll long seed) {
        Random r = new Random(seed);
        Tensor x = Ref.random(r, a, b);
        Tensor y = dropLead ? Ref.random(r, b) : Ref.random(r, a, 1);
        Tensor s1 = x.add(y);
        assertThat(s1.toArray()).containsExactly(y.add(x).toArray());
        assertThat(s1.toArray()).containsExactly(x.contiguous().add(y.expand(a, b).contiguous()).toArray());
    }
}
