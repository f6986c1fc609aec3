package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftmaxNormTest {

    /** Softmax in double along an axis by walking lines of the tensor. */
    private static double[] refSoftmax(Tensor x, int axis, boolean log) {
        int[] s = x.shape();
        double[] out = new double[x.numel()];
        int[] st = Shapes.contiguousStrides(s);
        Ref.forEach(s, idx -> {
            if (idx[axis] != 0) {
                return;
            }
            double max = Double.NEGATIVE_INFINITY;
            int[] j = idx.clone();
            for (int i = 0; i < s[axis]; i++) {
                j[axis] = i;
                max = Math.max(max, x.get(j));
            }
            double sum = 0;
            for (int i = 0; i < s[axis]; i++) {
                j[axis] = i;
                sum += Math.exp(x.get(j) - max);
            }
            for (int i = 0; i < s[axis]; i++) {
                j[axis] = i;
                int o = 0;
                for (int d = 0; d < s.length; d++) {
                    o += j[d] * st[d];
                }
                out[o] = log ? x.get(j) - max - Math.log(sum) : Math.exp(x.get(j) - max) / sum;
            }
        });
        return out;
    }

    @Test
    void softmaxAndLogSoftmaxAlongEveryAxis() {
        Random r = new Random(11);
        int[][] shapes = {{1}, {7}, {3, 17}, {2, 5, 33}, {4, 1, 9}, {2, 3, 4, 5}, {200, 513}};
        for (int[] shape : shapes) {
            Tensor x = Ref.random(r, shape).mul(8f);
            for (int axis = 0; axis < shape.length; axis++) {
                Tensor in = axis % 2 == 1 ? Ref.strided(x) : x;
                // exp via SVML (<= 4 ulp) and float sums over <= 513 terms: 1e-5 relative, 1e-7 absolute.
                Ref.assertClose(in.softmax(axis), refSoftmax(x, axis, false), shape, 1e-5, 1e-7);
                Ref.assertClose(in.logSoftmax(axis - shape.length), refSoftmax(x, axis, true), shape, 1e-5, 1e-5);
            }
        }
    }

    @Test
    void causalSoftmaxEqualsMaskedSoftmaxAndBackwardMatchesComposition() {
        Random r = new Random(13);
        for (int[] s : new int[][] {{2, 3, 5, 5}, {1, 2, 3, 7}, {4, 1, 1}, {2, 17, 17}}) {
            Tensor x = Ref.random(r, s).mul(4f);
            int lq = s[s.length - 2];
            int lk = s[s.length - 1];
            float[] m = new float[lq * lk];
            for (int i = 0; i < lq; i++) {
                for (int j = i + lk - lq + 1; j < lk; j++) {
                    m[i * lk + j] = 1;
                }
            }
            Tensor masked = x.maskedFill(Tensor.wrap(m, lq, lk), Float.NEGATIVE_INFINITY).softmax(-1);
            Ref.assertClose(Ref.strided(x).causalSoftmax(), masked, 1e-6, 1e-7);
            Tensor g = Ref.random(r, s);
            Tensor composed = masked.mul(g.sub(g.mul(masked).sum(true, -1))).mul(0.5f);
            Ref.assertClose(masked.softmaxBackward(g, 0.5f), composed, 1e-5, 1e-6);
        }
        assertThatThrownBy(() -> Tensor.zeros(3, 2).causalSoftmax())
                .hasMessage("causalSoftmax: need [..., Lq, Lk] with Lq <= Lk, got [3,2]");
    }

    @Test
    void softmaxIsStableForHugeLogitsAndMasks() {
        Tensor x = Tensor.fromArray(new float[] {1000f, 1001f, Float.NEGATIVE_INFINITY, -1000f}, 1, 4);
        float[] p = x.softmax(-1).toArray();
        assertThat(p[0]).isCloseTo(0.26894142f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(p[1]).isCloseTo(0.73105858f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(p[2]).isZero();
        assertThat(p[3]).isZero();
        assertThat(x.logSoftmax(-1).toArray()[2]).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void rmsNormAndLayerNormMatchReference() {
        Random r = new Random(12);
        int[][] shapes = {{1}, {5}, {3, 17}, {2, 4, 64}, {9, 257}, {300, 300}};
        for (int[] shape : shapes) {
            Tensor x = Ref.random(r, shape).mul(3f).add(0.5f);
            int d = shape[shape.length - 1];
            Tensor w = Ref.random(r, d);
            Tensor b = Ref.random(r, d);
            float eps = 1e-5f;
            int rows = x.numel() / d;
            float[] xs = x.toArray();
            float[] ws = w.toArray();
            float[] bs = b.toArray();
            double[] rms = new double[xs.length];
            double[] ln = new double[xs.length];
            for (int i = 0; i < rows; i++) {
                double ss = 0;
                double mu = 0;
                for (int j = 0; j < d; j++) {
                    ss += (double) xs[i * d + j] * xs[i * d + j];
                    mu += xs[i * d + j];
                }
                mu /= d;
                double var = 0;
                for (int j = 0; j < d; j++) {
                    var += (xs[i * d + j] - mu) * (xs[i * d + j] - mu);
                }
                var /= d;
                for (int j = 0; j < d; j++) {
                    rms[i * d + j] = xs[i * d + j] / Math.sqrt(ss / d + eps) * ws[j];
                    ln[i * d + j] = (xs[i * d + j] - mu) / Math.sqrt(var + eps) * ws[j] + bs[j];
                }
            }
            // Float sums of <= 300 squares then one rsqrt: relative error well under 1e-5.
            Ref.assertClose(x.rmsNorm(w, eps), rms, shape, 1e-5, 1e-6);
            Ref.assertClose(Ref.strided(x).rmsNorm(w, eps), rms, shape, 1e-5, 1e-6);
            Ref.assertClose(x.layerNorm(w, b, eps), ln, shape, 1e-5, 1e-5);
        }
        Tensor plain = Tensor.fromArray(new float[] {3, 4}, 1, 2);
        float inv = (float) (1 / Math.sqrt(12.5));
        assertThat(plain.rmsNorm(null, 0f).toArray()).containsExactly(3 * inv, 4 * inv);
    }

    @Test
    void normWeightShapeErrors() {
        assertThatThrownBy(() -> Tensor.zeros(2, 4).rmsNorm(Tensor.ones(3), 1e-6f))
                .hasMessage("rmsNorm: weight shape [3] should be [4] for input shape [2,4]");
        assertThatThrownBy(() -> Tensor.zeros(2, 4).layerNorm(Tensor.ones(4), Tensor.ones(4, 1), 1e-6f))
                .hasMessage("layerNorm: bias shape [4,1] should be [4] for input shape [2,4]");
        assertThatThrownBy(() -> Tensor.scalar(1).rmsNorm(null, 1e-6f))
                .hasMessage("rmsNorm: input must have at least one dimension, got a scalar");
        assertThatThrownBy(() -> Tensor.zeros(2).softmax(1)).hasMessage("softmax: axis 1 out of range for shape [2] (rank 1)");
    }
}
