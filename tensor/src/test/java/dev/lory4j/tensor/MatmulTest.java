package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MatmulTest {

    /** Batched matmul reference in double; a [..., m, k], b [..., k, n] already broadcast to the same batch. */
    private static double[] reference(Tensor a, Tensor b, int[] batch, int m, int k, int n) {
        int nb = Shapes.numel(batch);
        double[] out = new double[nb * m * n];
        int[] bi = new int[batch.length];
        for (int t = 0; t < nb; t++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += (double) a.get(idx(bi, i, p)) * b.get(idx(bi, p, j));
                    }
                    out[(t * m + i) * n + j] = s;
                }
            }
            for (int d = batch.length - 1; d >= 0; d--) {
                if (++bi[d] < batch[d]) {
                    break;
                }
                bi[d] = 0;
            }
        }
        return out;
    }

    private static int[] idx(int[] batch, int r, int c) {
        int[] x = java.util.Arrays.copyOf(batch, batch.length + 2);
        x[batch.length] = r;
        x[batch.length + 1] = c;
        return x;
    }

    private static int[] with(int[] batch, int r, int c) {
        return idx(batch, r, c);
    }

    @Test
    void randomShapesLayoutsAndBroadcastBatches() {
        Random r = new Random(21);
        int[][] batches = {{}, {3}, {2, 3}};
        for (int trial = 0; trial < 40; trial++) {
            int m = 1 + r.nextInt(trial < 30 ? 20 : 70);
            int k = 1 + r.nextInt(trial < 30 ? 20 : 70);
            int n = 1 + r.nextInt(trial < 30 ? 20 : 70);
            int[] batch = batches[trial % 3];
            // Operand a: maybe broadcast (batch dims dropped or size 1), maybe a transposed view.
            int[] batchA = trial % 4 == 1 && batch.length > 0 ? new int[0] : batch;
            int[] batchB = trial % 4 == 2 && batch.length > 0 ? java.util.Arrays.stream(batch).map(x -> 1).toArray()
                    : batch;
            boolean ta = r.nextBoolean();
            boolean tb = r.nextBoolean();
            Tensor a = ta ? Ref.random(r, with(batchA, k, m)).transpose(-1, -2) : Ref.random(r, with(batchA, m, k));
            Tensor b = tb ? Ref.random(r, with(batchB, n, k)).transpose(-1, -2) : Ref.random(r, with(batchB, k, n));
            if (trial % 5 == 4) {
                a = Ref.strided(a.contiguous()); // a layout GEMM cannot take directly: copied first
            }
            Tensor c = a.matmul(b);
            double[] want = reference(a.expand(with(batch, m, k)), b.expand(with(batch, k, n)), batch, m, k, n);
            // Sums of k <= 70 products of values in [-1,1]: float error < k * 2^-24 * k; 1e-5 abs + 1e-5 rel.
            Ref.assertClose(c, want, with(batch, m, n), 1e-5, 1e-5);
        }
    }

    @Test
    void vectorsFollowNumPy() {
        Tensor v = Tensor.fromArray(new float[] {1, 2, 3}, 3);
        Tensor m = Tensor.arange(6).reshape(3, 2);
        assertThat(v.matmul(m).shape()).containsExactly(2);
        assertThat(v.matmul(m).toArray()).containsExactly(16, 22);
        assertThat(m.t().matmul(v).toArray()).containsExactly(16, 22);
        assertThat(v.matmul(v).shape()).isEmpty();
        assertThat(v.matmul(v).item()).isEqualTo(14f);
    }

    @Test
    void emptyDimensions() {
        assertThat(Tensor.zeros(0, 3).matmul(Tensor.ones(3, 4)).shape()).containsExactly(0, 4);
        Tensor z = Tensor.ones(2, 0).matmul(Tensor.ones(0, 3));
        assertThat(z.shape()).containsExactly(2, 3);
        assertThat(z.toArray()).containsOnly(0f);
    }

    @Test
    void shapeErrorsNameTheShapes() {
        assertThatThrownBy(() -> Tensor.zeros(2, 3).matmul(Tensor.zeros(4, 5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("matmul: [2,3] x [4,5]: inner dimensions 3 and 4 differ");
        assertThatThrownBy(() -> Tensor.zeros(2, 2, 3).matmul(Tensor.zeros(3, 3, 5)))
                .hasMessage("matmul: [2,2,3] x [3,3,5]: batch dimensions [2] and [3] cannot be broadcast");
        assertThatThrownBy(() -> Tensor.scalar(1).matmul(Tensor.zeros(2)))
                .hasMessage("matmul: [] x [2]: scalars have no matrix product");
    }
}
