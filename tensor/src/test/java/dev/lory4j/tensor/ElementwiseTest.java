package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ElementwiseTest {
    // Sizes around the vector length (8 on AVX2, 16 on AVX-512) and the parallel threshold (65536).
    private static final int[] SIZES = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1023, 70_001};

    private static double ref(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case SILU -> x / (1 + Math.exp(-x));
            case GELU -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            case RELU -> Math.max(x, 0);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
        };
    }

    /** Reference erf for the GELU check. */
    static double erf(double x) {
        // Simpson integration of 2/sqrt(pi) exp(-t^2).
        int n = 400; // Simpson error <= (b-a)/180 h^4 max|f''''| < 1e-8 for |x| <= 4.3
        double h = x / n;
        double s = 1 + Math.exp(-x * x);
        for (int i = 1; i < n; i++) {
            double t = i * h;
            s += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t);
        }
        return s * h / 3 * 2 / Math.sqrt(Math.PI);
    }

    private static float[] inputs(Random r, UnaryOp op, int n) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            float v = (r.nextFloat() * 2 - 1) * 6;
            d[i] = switch (op) {
                case LOG, SQRT, RSQRT -> Math.abs(v) + 1e-3f; // positive domain
                case RECIPROCAL -> v >= 0 ? v + 0.1f : v - 0.1f; // away from 0
                default -> v;
            };
        }
        return d;
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryMatchesReferenceOnContiguousAndStridedInputs(UnaryOp op) {
        Random r = new Random(op.ordinal());
        for (int n : SIZES) {
            Tensor x = Tensor.wrap(inputs(r, op, n), n);
            double[] want = new double[n];
            float[] xs = x.toArray();
            for (int i = 0; i < n; i++) {
                want[i] = ref(op, xs[i]);
            }
            // Tolerance: the vector kernels use SVML-class exp/log/tanh (<= 4 ulp) and GELU's erf approximation
            // has 1.5e-7 absolute error, so 1e-5 relative plus 1e-6 absolute covers them with margin.
            Ref.assertClose(x.map(op), want, new int[] {n}, 1e-5, 1e-6);
            Ref.assertClose(Ref.strided(x).map(op), want, new int[] {n}, 1e-5, 1e-6);
        }
    }

    @Test
    void fusedSiluGateEqualsTheOpsItReplacesAndTheirGradients() {
        Random r = new Random(11);
        for (int n : SIZES) {
            float[] a = new float[n];
            float[] b = new float[n];
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (r.nextFloat() * 2 - 1) * 9; // into the saturated ends of the sigmoid
                b[i] = (float) r.nextGaussian();
                g[i] = (float) r.nextGaussian();
            }
            Tensor at = Tensor.wrap(a, n);
            Tensor bt = Tensor.wrap(b, n);
            Tensor gt = Tensor.wrap(g, n);
            float[] out = new float[n + 2];
            dev.lory4j.tensor.kernels.Elementwise.siluMul(a, 0, b, 0, out, 2, n);
            // the ops a.silu().mul(b) and their gradients as autograd would run them, bit for bit
            float[] want = at.silu().mul(bt).toArray();
            Tensor sig = at.sigmoid();
            float[] wantDa = gt.mul(bt).mul(sig.mul(at.mul(sig.neg().add(1f)).add(1f))).toArray();
            float[] wantDb = gt.mul(at.silu()).toArray();
            float[] da = new float[n + 1];
            float[] db = new float[n + 3];
            dev.lory4j.tensor.kernels.Elementwise.siluMulBackward(a, 0, b, 0, g, 0, da, 1, db, 3, n);
            float[] onlyDb = new float[n];
            dev.lory4j.tensor.kernels.Elementwise.siluMulBackward(a, 0, b, 0, g, 0, null, 0, onlyDb, 0, n);
            for (int i = 0; i < n; i++) {
                double s = 1 / (1 + Math.exp(-a[i]));
                assertThat(out[2 + i]).as("n=%d i=%d", n, i).isEqualTo(want[i])
                        .isCloseTo((float) (a[i] * s * b[i]), org.assertj.core.api.Assertions.within(1e-5f
                                * (1 + Math.abs(a[i] * b[i]))));
                assertThat(da[1 + i]).as("dA n=%d i=%d", n, i).isEqualTo(wantDa[i]);
                assertThat(db[3 + i]).as("dB n=%d i=%d", n, i).isEqualTo(wantDb[i]);
                assertThat(onlyDb[i]).isEqualTo(wantDb[i]);
                // against the derivative in double: d/da silu(a) b = b s (1 + a (1 - s))
                assertThat((double) da[1 + i]).isCloseTo(g[i] * b[i] * s * (1 + a[i] * (1 - s)),
                        org.assertj.core.api.Assertions.within(1e-5 * (1 + Math.abs(a[i] * g[i] * b[i]))));
            }
            assertThat(out[0]).isZero();
            assertThat(da[0]).isZero();
        }
    }

    @Test
    void sigmoidAndSiluSaturateWithoutNaN() {
        Tensor x = Tensor.fromArray(new float[] {-1000f, -90f, 0f, 90f, 1000f}, 5);
        float[] sig = x.sigmoid().toArray();
        assertThat(sig).doesNotContain(Float.NaN);
        assertThat(sig[0]).isZero();
        assertThat(sig[1]).isLessThan(1e-38f);
        assertThat(sig[2]).isEqualTo(0.5f);
        assertThat(sig[3]).isEqualTo(1f);
        float[] silu = x.silu().toArray();
        assertThat(silu[0]).isEqualTo(-0f);
        assertThat(silu[4]).isEqualTo(1000f);
    }

    private static double ref(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case POW -> Math.pow(a, b);
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
        };
    }

    private static final int[][][] BROADCAST_CASES = {
        {{5}, {5}}, {{4, 3}, {3}}, {{4, 3}, {4, 1}}, {{1, 3}, {4, 1}}, {{2, 3, 17}, {17}}, {{2, 1, 17}, {3, 1}},
        {{}, {3, 2}}, {{3, 2}, {}}, {{0, 3}, {3}}, {{2, 0}, {1}}, {{1}, {1}}, {{70_001}, {70_001}},
        {{300, 257}, {300, 1}}, {{5, 1, 7, 1}, {1, 6, 1, 9}},
    };

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryBroadcastsLikeNumPy(BinaryOp op) {
        Random r = new Random(100 + op.ordinal());
        for (int[][] c : BROADCAST_CASES) {
            for (boolean strided : new boolean[] {false, true}) {
                Tensor a = Ref.random(r, c[0]);
                Tensor b = Ref.random(r, c[1]);
                if (op == BinaryOp.POW) {
                    a = a.abs().add(0.1f); // real results only
                }
                if (op == BinaryOp.DIV) {
                    b = b.abs().add(0.1f);
                }
                if (op == BinaryOp.EQ || op == BinaryOp.NE || op == BinaryOp.GE || op == BinaryOp.LE) {
                    a = roundHalf(a.mul(4f)); // coarse values so that ties occur
                    b = roundHalf(b.mul(4f));
                }
                if (strided) {
                    a = Ref.strided(a);
                    b = Ref.strided(b);
                }
                int[] s = Shapes.broadcast("test", c[0], c[1]);
                double[] want = new double[Shapes.numel(s)];
                Tensor ea = a.expand(s);
                Tensor eb = b.expand(s);
                int[] k = {0};
                Ref.forEach(s, idx -> want[k[0]++] = ref(op, ea.get(idx), eb.get(idx)));
                // Exact IEEE ops except POW (SVML pow, <= 4 ulp), hence 1e-6 relative.
                Ref.assertClose(a.zip(op, b), want, s, 1e-6, 0);
            }
        }
    }

    private static Tensor roundHalf(Tensor t) {
        float[] d = t.toArray();
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.round(d[i] * 2) / 2f;
        }
        return Tensor.wrap(d, t.shape());
    }

    @Test
    void incompatibleShapesNameOpAndShapes() {
        assertThatThrownBy(() -> Tensor.zeros(2, 3).add(Tensor.zeros(4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("add: shapes [2,3] and [4] cannot be broadcast (dimension 1: 3 vs 4)");
        assertThatThrownBy(() -> Tensor.zeros(2, 3).mul(Tensor.zeros(3, 3)))
                .hasMessageStartingWith("mul: shapes [2,3] and [3,3]");
    }

    @Test
    void inPlaceOpsWriteThroughViewsAndRejectExpandedTargets() {
        Tensor m = Tensor.arange(12).reshape(3, 4);
        m.slice(1, 1, 3).addInPlace(Tensor.fromArray(new float[] {10, 20}, 2));
        assertThat(m.toArray()).containsExactly(0, 11, 22, 3, 4, 15, 26, 7, 8, 19, 30, 11);
        m.t().mulInPlace(2f);
        assertThat(m.get(2, 3)).isEqualTo(22f);
        Tensor row = Tensor.ones(4).expand(3, 4);
        assertThatThrownBy(() -> row.addInPlace(Tensor.ones(3, 4)))
                .hasMessageContaining("addInPlace: tensor of shape [3,4] with strides [0,1] is an expanded view");
        assertThatThrownBy(() -> Tensor.zeros(3).addInPlace(Tensor.zeros(2, 3)))
                .hasMessage("addInPlace: source shape [2,3] cannot be broadcast to destination shape [3]");
        Random r = new Random(5);
        Tensor y = Ref.random(r, 33);
        Tensor x = Ref.random(r, 33);
        Tensor want = y.add(x.mul(0.5f));
        Ref.assertClose(y.addScaledInPlace(x, 0.5f), want, 1e-6, 1e-7);
        Tensor self = Tensor.arange(6);
        self.addInPlace(self); // aliasing source and destination
        assertThat(self.toArray()).containsExactly(0, 2, 4, 6, 8, 10);
        Tensor shifted = Tensor.arange(6);
        shifted.slice(0, 1, 6).copyFrom(shifted.slice(0, 0, 5)); // overlapping copy behaves like a copy first
        assertThat(shifted.toArray()).containsExactly(0, 0, 1, 2, 3, 4);
    }

    @Test
    void whereMaskedFillAndClamp() {
        Tensor x = Tensor.fromArray(new float[] {-2, -1, 0, 1, 2, 3}, 2, 3);
        Tensor mask = x.gt(0f);
        assertThat(mask.toArray()).containsExactly(0, 0, 0, 1, 1, 1);
        assertThat(Tensor.where(mask, x, Tensor.scalar(-9)).toArray()).containsExactly(-9, -9, -9, 1, 2, 3);
        Tensor causal = Tensor.fromArray(new float[] {0, 1, 1}, 3);
        assertThat(x.maskedFill(causal, Float.NEGATIVE_INFINITY).get(1, 2)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(x.maskedFill(causal, 7).toArray()).containsExactly(-2, 7, 7, 1, 7, 7);
        assertThat(x.clamp(-1, 1).toArray()).containsExactly(-1, -1, 0, 1, 1, 1);
        assertThatThrownBy(() -> x.clamp(1, 0)).hasMessage("clamp: lower bound 1.0 above upper bound 0.0");
        assertThatThrownBy(() -> x.maskedFill(Tensor.zeros(4, 2, 3), 0f))
                .hasMessage("maskedFill: mask shape [4,2,3] cannot be broadcast to tensor shape [2,3]");
    }
}
