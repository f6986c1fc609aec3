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
 * The TornadoVM backend's kernel for eager (uncaptured) execution: {@code linear}, whose weight, gradient and AdamW
 * moments stay on the device between calls ({@link LinearPlan}); it leaves the call to the reference decomposition
 * when the product does not belong on the device (too little work per byte copied, weight not a whole resident
 * buffer). Every other composite runs its reference op by op. Captured steps do not use it: the compiler lowers the
 * whole graph ({@link GraphPlan}).
 */
public final class TornadoComposites implements KernelProvider {
    @Override
    public Map<String, Kernel<?>> kernels(Backend backend) {
        if (!(backend instanceof TornadoBackend tb)) {
            return Map.of();
        }
        return Map.of(Composites.LINEAR.name(), kernel(
                (Call<Void> c) -> linearForward(tb, c.input(0), c.input(1)),
                (c, dy) -> linearBackward(tb, c.input(0), c.input(1), dy)));
    }

    /** A kernel from a forward (null: not on the device) and a backward (null: not on the device) function. */
    private static <A> Kernel<A> kernel(Function<Call<A>, Tensor> forward, BiFunction<Call<A>, Tensor, Tensor[]> backward) {
        return new Kernel<>() {
            @Override
            public Tensor forward(Call<A> call) {
                return forward.apply(call);
            }

            @Override
            public Tensor[] backward(Call<A> call, Tensor y, Tensor dy, boolean[] needs) {
                Tensor[] g = backward.apply(call, dy);
                return g == null ? call.referenceBackward(dy, needs) : g;
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
}
