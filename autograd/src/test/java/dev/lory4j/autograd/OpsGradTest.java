package dev.lory4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A finite-difference gradient check for every differentiable op, on random inputs and shapes. */
class OpsGradTest {
    private static final Rng RNG = new Rng(2024);

    /** Uniform in [-1, 1). */
    static Tensor rnd(int... shape) {
        return RNG.uniform(-1f, 1f, shape);
    }

    /** Values at least 0.1 away from 0 (kinks of abs/relu/max stay farther than the FD step h = 0.01). */
    static Tensor awayFromZero(int... shape) {
        Tensor u = rnd(shape);
        return u.abs().add(0.1f).mul(u.gt(0f).mul(2f).sub(1f));
    }

    static Tensor grid(int[] shape, float offset) {
        float[] d = rnd(shape).toArray();
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.round(d[i] * 10) / 10f + offset;
        }
        return Tensor.wrap(d, shape);
    }

    static Tensor positive(int... shape) {
        return rnd(shape).abs().add(0.5f);
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryOps(UnaryOp op) {
        Tensor x = switch (op) {
            case LOG, SQRT, RSQRT, RECIPROCAL -> positive(3, 7);
            case ABS, RELU -> awayFromZero(3, 7);
            default -> rnd(3, 7).mul(2f);
        };
        GradCheck.check(op.opName(), v -> Pointwise.unary(v[0], op), x);
    }

    @Test
    void binaryOpsWithBroadcasting() {
        int[][][] shapes = {{{4, 5}, {4, 5}}, {{4, 5}, {5}}, {{2, 1, 5}, {3, 1}}, {{3, 1}, {1, 6}}, {{}, {2, 3}}};
        for (int[][] s : shapes) {
            GradCheck.check("add", v -> v[0].add(v[1]), rnd(s[0]), rnd(s[1]));
            GradCheck.check("sub", v -> v[0].sub(v[1]), rnd(s[0]), rnd(s[1]));
            GradCheck.check("mul", v -> v[0].mul(v[1]), rnd(s[0]), rnd(s[1]));
            GradCheck.check("div", v -> v[0].div(v[1]), rnd(s[0]), positive(s[1]));
            // On a 0.1 grid offset by 0.05 the inputs never come within the FD step of a tie.
            GradCheck.check("maximum", v -> v[0].maximum(v[1]), grid(s[0], 0f), grid(s[1], 0.05f));
            GradCheck.check("minimum", v -> v[0].minimum(v[1]), grid(s[0], 0f), grid(s[1], 0.05f));
        }
        GradCheck.check("scalars", v -> v[0].add(2f).mul(-3f).sub(1f).div(4f).neg(), rnd(3, 4));
        GradCheck.check("pow", v -> v[0].pow(2.5f), positive(3, 4));
        GradCheck.check("pow int", v -> v[0].pow(3f), rnd(3, 4));
    }

    @Test
    void whereAndMaskedFill() {
        Tensor cond = rnd(3, 4).gt(0f);
        GradCheck.check("where", v -> v[0].where(cond, v[1]), rnd(3, 4), rnd(4));
        GradCheck.check("maskedFill", v -> v[0].maskedFill(cond, -5f), rnd(3, 4));
    }

    @Test
    void viewsAndJoins() {
        GradCheck.check("reshape", v -> v[0].reshape(4, -1).mul(v[0].reshape(4, -1)), rnd(2, 3, 4));
        Tensor w = rnd(4, 3, 2);
        GradCheck.check("transpose", v -> v[0].transpose(0, 2).mul(Var.of(w)), rnd(2, 3, 4));
        GradCheck.check("permute", v -> v[0].permute(2, 0, 1).square(), rnd(2, 3, 4));
        GradCheck.check("slice", v -> v[0].slice(1, 1, 3).square(), rnd(2, 4, 3));
        GradCheck.check("select", v -> v[0].select(0, 1).square(), rnd(3, 5));
        GradCheck.check("expand", v -> v[0].expand(4, 3, 5).square(), rnd(3, 1));
        GradCheck.check("unsqueeze/squeeze", v -> v[0].unsqueeze(1).square().squeeze(1), rnd(3, 5));
        GradCheck.check("concat", v -> Var.concat(1, v[0], v[1].square()), rnd(2, 3), rnd(2, 2));
        GradCheck.check("stack", v -> Var.stack(0, v[0], v[1].mul(v[0])), rnd(2, 3), rnd(2, 3));
        GradCheck.check("split", v -> v[0].split(1, 2, 3)[1].square(), rnd(2, 5));
        GradCheck.check("t", v -> v[0].t().matmul(v[0]), rnd(3, 4));
        GradCheck.check("indexSelect", v -> v[0].indexSelect(1, new int[] {2, 0, 2}).square(), rnd(3, 4));
        GradCheck.check("indexAdd", v -> v[0].indexAdd(0, new int[] {1, 1, 0}, v[1].square()), rnd(2, 3), rnd(3, 3));
        GradCheck.check("gather", v -> v[0].gather(1, new int[] {3, 0, 1, 1, 2, 2}, 3, 2).square(), rnd(3, 4));
    }

    @Test
    void reductions() {
        GradCheck.check("sum all", v -> v[0].square().sum(), rnd(3, 4));
        GradCheck.check("sum axes", v -> v[0].square().sum(false, 0, 2), rnd(3, 4, 5));
        GradCheck.check("sum keep", v -> v[0].square().sum(true, -1), rnd(3, 4));
        GradCheck.check("mean", v -> v[0].square().mean(false, 1), rnd(3, 4, 2));
        GradCheck.check("mean all", v -> v[0].square().mean(), rnd(3, 4));
        GradCheck.check("max", v -> v[0].max(false, 1), rnd(3, 6));
        GradCheck.check("var", v -> v[0].var(false, 1, 1), rnd(3, 6));
        GradCheck.check("var pop", v -> v[0].var(true, 0, 0, 1), rnd(3, 6));
    }

    @Test
    void matmulAllLayouts() {
        GradCheck.check("matmul 2d", v -> v[0].matmul(v[1]), rnd(3, 4), rnd(4, 5));
        GradCheck.check("matmul batched", v -> v[0].matmul(v[1]), rnd(2, 3, 4), rnd(2, 4, 5));
        GradCheck.check("matmul broadcast", v -> v[0].matmul(v[1]), rnd(2, 3, 3, 4), rnd(4, 5));
        GradCheck.check("matmul broadcast2", v -> v[0].matmul(v[1]), rnd(3, 4), rnd(2, 4, 5));
        GradCheck.check("matmul transposed", v -> v[0].matmul(v[1].transpose(-1, -2)), rnd(2, 3, 4), rnd(2, 5, 4));
        GradCheck.check("matmul vec", v -> v[0].matmul(v[1]), rnd(4), rnd(4, 5));
        GradCheck.check("matmul vec2", v -> v[0].matmul(v[1]), rnd(3, 4), rnd(4));
        GradCheck.check("dot", v -> v[0].matmul(v[1]), rnd(7), rnd(7));
        GradCheck.check("linear 2d", v -> v[0].linear(v[1]), rnd(5, 7), rnd(3, 7));
        GradCheck.check("linear 3d", v -> v[0].linear(v[1]), rnd(2, 5, 9), rnd(11, 9));
        GradCheck.check("linear of a view", v -> v[0].transpose(0, 1).linear(v[1]), rnd(6, 4), rnd(3, 6));
    }

    @Test
    void linearIsMatmulWithTheTransposedWeight() {
        Tensor x = rnd(2, 5, 9);
        Tensor w = rnd(11, 9);
        Var a = Var.param(x);
        Var wa = Var.param(w);
        Var b = Var.param(x);
        Var wb = Var.param(w);
        Tensor g = rnd(2, 5, 11);
        a.linear(wa).backward(g, false);
        Var composed = b.matmul(wb.t());
        composed.backward(g, false);
        assertThat(a.linear(wa).data().allClose(composed.data(), 1e-6f, 1e-6f)).isTrue();
        assertThat(a.grad().allClose(b.grad(), 1e-5f, 1e-6f)).isTrue();
        assertThat(wa.grad().allClose(wb.grad(), 1e-5f, 1e-6f)).isTrue();
        assertThatThrownBy(() -> a.linear(Var.param(rnd(11, 8)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("linear").hasMessageContaining("[2,5,9]").hasMessageContaining("[11,8]");
    }

    @Test
    void softmaxFamilyAndNorms() {
        for (int axis : new int[] {0, 1, -1}) {
            GradCheck.check("softmax " + axis, v -> v[0].softmax(axis), rnd(3, 4, 5).mul(3f));
            GradCheck.check("logSoftmax " + axis, v -> v[0].logSoftmax(axis), rnd(3, 4, 5).mul(3f));
        }
        GradCheck.check("rmsNorm", v -> v[0].rmsNorm(v[1], 1e-5f), rnd(3, 4, 8), rnd(8));
        GradCheck.check("rmsNorm no weight", v -> v[0].rmsNorm(null, 1e-5f), rnd(5, 8));
        GradCheck.check("layerNorm", v -> v[0].layerNorm(v[1], v[2], 1e-5f), rnd(3, 8), rnd(8), rnd(8));
        GradCheck.check("layerNorm plain", v -> v[0].layerNorm(null, null, 1e-5f), rnd(3, 8));
    }

    @Test
    void embeddingCrossEntropyAttentionDropout() {
        int[] ids = {3, 0, 3, 5, 1, 0};
        GradCheck.check("embedding", v -> v[0].embedding(ids, 2, 3).square(), rnd(6, 4));
        int[] targets = {1, 4, -100, 0, 4};
        GradCheck.check("crossEntropy", v -> v[0].crossEntropy(targets, -100), rnd(5, 6).mul(3f));
        GradCheck.check("crossEntropy 3d", v -> v[0].crossEntropy(new int[] {1, 2, 0, 3}, -1), rnd(2, 2, 4));
        float scale = 0.5f;
        for (boolean causal : new boolean[] {false, true}) {
            GradCheck.check("attention causal=" + causal, v -> Var.attention(v[0], v[1], v[2], causal, scale),
                    rnd(2, 2, 5, 4), rnd(2, 2, 5, 4), rnd(2, 2, 5, 3));
        }
        GradCheck.check("attention kv-cache", v -> Var.attention(v[0], v[1], v[2], true, scale),
                rnd(1, 2, 2, 4), rnd(1, 2, 5, 4), rnd(1, 2, 5, 4));
        GradCheck.check("dropout", v -> v[0].dropout(0.3f, new Rng(5)), rnd(4, 6));
    }

    @Test
    void fusedAttentionMatchesComposedOps() {
        Tensor q = rnd(2, 3, 6, 4);
        Tensor k = rnd(2, 3, 6, 4);
        Tensor v = rnd(2, 3, 6, 5);
        float scale = 0.5f;
        Var[] a = {Var.param(q), Var.param(k), Var.param(v)};
        Var fused = Var.attention(a[0], a[1], a[2], true, scale);
        Var[] b = {Var.param(q), Var.param(k), Var.param(v)};
        Var composed = b[0].matmul(b[1].transpose(-1, -2)).mul(scale)
                .maskedFill(causalMask(6, 6), Float.NEGATIVE_INFINITY).softmax(-1).matmul(b[2]);
        assertThat(fused.data().allClose(composed.data(), 1e-5f, 1e-6f)).isTrue();
        Tensor g = rnd(2, 3, 6, 5);
        fused.backward(g, false);
        composed.backward(g, false);
        for (int i = 0; i < 3; i++) {
            assertThat(a[i].grad().allClose(b[i].grad(), 1e-4f, 1e-6f)).as("grad %d", i).isTrue();
        }
    }

    @Test
    void crossEntropyValueAndErrors() {
        Tensor logits = Tensor.fromArray(new float[] {0, 0, 0, 0, 1, 2, 3, 4}, 2, 4);
        Var l = Var.param(logits).crossEntropy(new int[] {2, 3}, -100);
        double row2 = -(4 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4)));
        assertThat((double) l.item()).isCloseTo((Math.log(4) + row2) / 2, org.assertj.core.data.Offset.offset(1e-6));
        assertThatThrownBy(() -> Var.param(logits).crossEntropy(new int[] {4, 0}, -100))
                .hasMessage("crossEntropy: target 4 at row 0 out of range for 4 classes");
        assertThatThrownBy(() -> Var.param(logits).crossEntropy(new int[] {1}, -100))
                .hasMessage("crossEntropy: logits [2,4] have 2 rows but 1 targets were given");
        assertThatThrownBy(() -> Var.param(logits).crossEntropy(new int[] {-100, -100}, -100))
                .hasMessage("crossEntropy: all 2 targets are the ignore index -100: no row to average the loss over");
    }

    /** The mask the fused attention applies inside its softmax: 1 where key j lies after query i. */
    static Tensor causalMask(int lq, int lk) {
        float[] m = new float[lq * lk];
        int shift = lk - lq;
        for (int i = 0; i < lq; i++) {
            for (int j = i + shift + 1; j < lk; j++) {
                m[i * lk + j] = 1f;
            }
        }
        return Tensor.wrap(m, lq, lk);
    }
}
