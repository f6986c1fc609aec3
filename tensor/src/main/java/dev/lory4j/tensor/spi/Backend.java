package dev.lory4j.tensor.spi;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;

/**
 * Where tensor computations run. Found with {@link java.util.ServiceLoader}; the available backend with the
 * highest {@link #priority()} wins unless {@code -Dlory4j.backend=NAME} picks one (see {@link Backends}).
 * The CPU backend (Vector API) is always present. Arguments may be any strided views; results are new
 * contiguous tensors. Shape errors are thrown with the op name and the shapes.
 */
public interface Backend {
    /** Short name used by {@code -Dlory4j.backend}, e.g. {@code cpu} or {@code tornado}. */
    String name();

    /** Higher wins when no backend is named explicitly. The CPU backend has priority 0. */
    int priority();

    /** Whether this backend can run here (runtime and device present); checked once at selection. */
    default boolean isAvailable() {
        return true;
    }

    /** op(x) elementwise. */
    Tensor unary(UnaryOp op, Tensor x);

    /** op(a, b) elementwise with NumPy broadcasting. */
    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    /** Reduction over {@code axes} (all when empty). */
    Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim);

    /** Matrix product with NumPy semantics (1-D operands, broadcast batch dimensions). */
    Tensor matmul(Tensor a, Tensor b);

    /** Softmax (or log-softmax) along {@code axis} (already normalised to [0, rank)). */
    Tensor softmax(Tensor x, int axis, boolean log);

    /**
     * Softmax over the last axis of x [..., Lq, Lk] where query i sees keys j <= i + Lk - Lq (causal attention
     * aligned to the last keys); masked entries are 0.
     */
    Tensor causalSoftmax(Tensor x);

    /** The softmax backward along the last axis: scale * y * (g - sum(g * y, last)) for y = softmax(x). */
    Tensor softmaxBackward(Tensor y, Tensor g, float scale);

    /** RMSNorm over the last axis; weight is [last] or null. */
    Tensor rmsNorm(Tensor x, Tensor weight, float eps);

    /** LayerNorm over the last axis; weight and bias are [last] or null. */
    Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps);
}
