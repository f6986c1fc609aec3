package dev.lory4j.accel;

import dev.lory4j.autograd.composite.Call;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.autograd.composite.Kernel;
import dev.lory4j.autograd.composite.KernelProvider;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The TornadoVM backend's kernels for the composite ops: each runs the op in one plan whose weights, gradients and
 * intermediates stay on the device, and leaves the call to the reference decomposition when the op does not belong
 * on the device (too little work per byte copied, weights not whole resident buffers). A backward pass the device
 * cannot run takes the reference's gradients.
 */
public final class TornadoComposites implements KernelProvider {
    @Override
    public Map<String, Kernel<?>> kernels(Backend backend) {
        if (!(backend instanceof TornadoBackend tb)) {
            return Map.of();
        }
        return Map.of(
                Composites.LINEAR.name(), kernel(
                        c -> linearForward(tb, c.input(0), c.input(1)),
                        (c, dy) -> linearBackward(tb, c.input(0), c.input(1), dy)),
                Composites.ATTENTION.name(), kernel(
                        (Call<Composites.Attention> c) -> tb.attention(c.input(0), c.input(1), c.input(2),
                                c.args().causal(), c.args().scale()),
                        (c, dy) -> tb.attentionGrads(c.input(0), c.input(1), c.input(2), dy, c.args().causal(),
                                c.args().scale())),
                Composites.SELF_ATTENTION.name(), kernel(
                        (Call<Composites.SelfAttention> c) -> tb.selfAttention(c.input(0), c.input(1), c.input(2),
                                c.input(3), c.input(4), c.args().cos(), c.args().sin(), c.args().heads()),
                        (c, dy) -> tb.selfAttentionGrads(c.input(0), dy, c.input(1), c.input(2), c.input(3),
                                c.input(4), c.args().cos(), c.args().sin(), c.args().heads())),
                Composites.SWIGLU.name(), kernel(
                        (Call<Void> c) -> tb.swiGlu(c.input(0), c.input(1), c.input(2), c.input(3)),
                        (c, dy) -> tb.swiGluGrads(c.input(0), dy, c.input(1), c.input(2), c.input(3))),
                Composites.MERGED_PRODUCT.name(), kernel(
                        (Call<Void> c) -> tb.mergedMatmul(c.input(0), c.input(1), c.input(2), true),
                        (c, dy) -> mergedProductBackward(tb, c.input(0), c.input(1), c.input(2), dy)),
                Composites.MERGED_SWIGLU.name(), kernel(
                        (Call<Composites.Merged> c) -> tb.mergedSwiGlu(c.input(0), c.input(1), c.input(2),
                                c.input(3), c.input(4)),
                        (c, dy) -> tb.mergedSwiGluGrads(c.input(0), dy, c.input(1), c.input(2), c.input(3),
                                c.input(4))),
                Composites.LINEAR_CROSS_ENTROPY.name(), kernel(
                        (Call<Composites.Targets> c) -> head(tb, c),
                        (c, dy) -> tb.linearCrossEntropyGrads(rows(c.input(0)), c.input(1), c.args().targets(),
                                c.args().ignoreIndex(), dy.item()), (c, g) -> {
                            g[0] = g[0].reshape(c.input(0).shape());
                            return g;
                        }));
    }

    /** A kernel from a forward (null: not on the device) and a backward (null: not on the device) function. */
    private static <A> Kernel<A> kernel(Function<Call<A>, Tensor> forward, BiFunction<Call<A>, Tensor, Tensor[]> backward) {
        return kernel(forward, backward, (c, g) -> g);
    }

    private static <A> Kernel<A> kernel(Function<Call<A>, Tensor> forward, BiFunction<Call<A>, Tensor, Tensor[]> backward,
                                        BiFunction<Call<A>, Tensor[], Tensor[]> shape) {
        return new Kernel<>() {
            @Override
            public Tensor forward(Call<A> call) {
                return forward.apply(call);
            }

            @Override
            public Tensor[] backward(Call<A> call, Tensor y, Tensor dy, boolean[] needs) {
                Tensor[] g = backward.apply(call, dy);
                return g == null ? call.referenceBackward(dy, needs) : shape.apply(call, g);
            }
        };
    }

    /** x flattened to rows [n, d]. */
    private static Tensor rows(Tensor x) {
        return x.reshape(-1, x.dim(-1));
    }

    /** y = x · Wᵀ by the backend's product (a resident W is used where it lives); x of any rank. */
    private static Tensor linearForward(TornadoBackend tb, Tensor x, Tensor w) {
        int[] out = x.shape();
        out[out.length - 1] = w.dim(0);
        return tb.matmul(rows(x), w.transpose(0, 1)).reshape(out);
    }

    /** dx and dW in W's plan (dW stays on the device), or null when the plan does not take them. */
    private static Tensor[] linearBackward(TornadoBackend tb, Tensor x, Tensor w, Tensor dy) {
        Tensor[] g = tb.linearGrads(rows(x), dy.reshape(-1, w.dim(0)), w);
        return g == null ? null : new Tensor[] {g[0].reshape(x.shape()), g[1]};
    }

    private static Tensor[] mergedProductBackward(TornadoBackend tb, Tensor x, Tensor w, Tensor experts, Tensor dy) {
        Tensor dx = tb.mergedMatmul(dy, w, experts, false);
        Tensor[] g = dx == null ? null : tb.mergedMatmulGrads(x, dy, w, experts);
        return g == null ? null : new Tensor[] {dx, g[0], g[1]};
    }

    private static Tensor head(TornadoBackend tb, Call<Composites.Targets> c) {
        Float loss = tb.linearCrossEntropy(rows(c.input(0)), c.input(1), c.args().targets(), c.args().ignoreIndex());
        return loss == null ? null : Tensor.scalar(loss);
    }
}
