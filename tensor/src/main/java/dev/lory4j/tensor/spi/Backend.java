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

    /** A contiguous copy of x (any strided view): {@code contiguous()} and {@code copy()}. */
    Tensor copy(Tensor x);

    /** The parts joined along {@code axis} (checked: same rank, equal other dimensions; axis in [0, rank)). */
    Tensor concat(int axis, Tensor[] parts);

    /** x with before[d] and after[d] elements of {@code value} around each axis d (checked, non-negative). */
    Tensor pad(Tensor x, int[] before, int[] after, float value);

    /** The slices index[i] of x along {@code axis}, stacked in order (indices checked): an embedding lookup. */
    Tensor indexSelect(Tensor x, int axis, int[] index);

    /** A copy of x with src's slice i added to slice index[i] along {@code axis}; repeats sum (checked). */
    Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src);

    /** out[..] = x[.. index[..] at axis ..] for an index of shape {@code indexShape} (torch.gather; checked). */
    Tensor gather(Tensor x, int axis, int[] index, int[] indexShape);

    /** A copy of x with src added at the positions {@link #gather} would read; repeats sum (checked). */
    Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src);

    /** a where cond is non-zero, else b, all three broadcast (shapes checked). */
    Tensor where(Tensor cond, Tensor a, Tensor b);

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
     * Softmax over the last axis of x [..., Lq, Lk] where query i sees keys j &lt;= i + Lk - Lq (causal attention
     * aligned to the last keys); masked entries are 0.
     */
    Tensor causalSoftmax(Tensor x);

    /** The softmax backward along the last axis: scale * y * (g - sum(g * y, last)) for y = softmax(x). */
    Tensor softmaxBackward(Tensor y, Tensor g, float scale);

    /** RMSNorm over the last axis; weight is [last] or null. */
    Tensor rmsNorm(Tensor x, Tensor weight, float eps);

    /** LayerNorm over the last axis; weight and bias are [last] or null. */
    Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps);

    /**
     * 1 where an element is among the k largest of its line along {@code axis} (in [0, rank)), else 0: element i of
     * a line is kept when fewer than k elements j are greater, or equal with j &lt; i (ties go to the smaller index).
     * The routing masks of top-k and Expert Choice, as a tensor so that a captured step computes it on its device.
     */
    Tensor topKMask(Tensor x, int axis, int k);

    /** Checks that the lists of parameters, gradients and both moments of one optimizer step are equally long. */
    static void checkSameCount(String op, java.util.List<Tensor> ps, java.util.List<Tensor> gs,
                               java.util.List<Tensor> ms, java.util.List<Tensor> vs) {
        if (gs.size() != ps.size() || ms.size() != ps.size() || vs.size() != ps.size()) {
            throw new IllegalArgumentException(op + ": " + ps.size() + " parameters, " + gs.size() + " gradients, "
                    + ms.size() + " first and " + vs.size() + " second moments (want one of each per parameter)");
        }
    }

    /**
     * Σ t² over every element of every tensor (double accumulation on the CPU): gradient clipping's squared norm, one
     * call for all gradients, which a device may batch.
     */
    default double sumOfSquares(java.util.List<Tensor> ts) {
        double s = 0;
        for (Tensor t : ts) {
            Tensor c = t.contiguous();
            s += dev.lory4j.tensor.kernels.Optimizers.sumOfSquares(c.data(), c.offset(), c.numel());
        }
        return s;
    }

    /**
     * Each tensor times s, in order, for gradient clipping: one call for all gradients, which a device may batch; a
     * backend may scale a gradient it holds on its device in place and return it (the default returns new tensors).
     */
    default java.util.List<Tensor> scaled(java.util.List<Tensor> ts, float s) {
        return ts.stream().map(t -> t.mul(s)).toList();
    }

    /**
     * One AdamW step (PyTorch's, decoupled weight decay) of each contiguous (p, g, m, v) at the same index, in place,
     * all with the same hyper-parameters (bc1, bc2: the bias corrections 1 − βᵗ): one call for an optimizer step,
     * which a device may batch. A backend may keep m and v on its device between steps (marked with
     * Storage.deviceNewer).
     */
    default void adamw(java.util.List<Tensor> ps, java.util.List<Tensor> gs, java.util.List<Tensor> ms,
                       java.util.List<Tensor> vs, float lr, float beta1, float beta2, float eps, float weightDecay,
                       float bc1, float bc2) {
        checkSameCount("adamw", ps, gs, ms, vs);
        for (int i = 0; i < ps.size(); i++) {
            Tensor p = ps.get(i);
            Tensor g = gs.get(i).contiguous();
            Tensor m = ms.get(i);
            Tensor v = vs.get(i);
            dev.lory4j.tensor.kernels.Optimizers.adamw(p.data(), p.offset(), g.data(), g.offset(), m.data(),
                    m.offset(), v.data(), v.offset(), p.numel(), lr, beta1, beta2, eps, weightDecay, bc1, bc2);
        }
    }

    /**
     * Tells the backend that the caller drops {@code t} (an optimizer clearing a gradient), so a device copy kept
     * only for it may be reused without first bringing it to the host. Nothing by default.
     */
    default void release(Tensor t) {}

    /** Where this backend computes, for reports (e.g. the GPU's name); the backend name by default. */
    default String deviceName() {
        return name();
    }

    /** Bytes this backend copied between the host and its device since it was created (0 for the CPU): for reports. */
    default long bytesCopied() {
        return 0;
    }

    /**
     * Seconds per product of a · b (2-D) over {@code times} back-to-back products with the operands kept where
     * the backend computes, after one untimed product (compilation, transfers): the throughput of the product
     * itself, for benchmarks. The CPU default simply times {@link #matmul}.
     */
    default double residentMatmulSeconds(Tensor a, Tensor b, int times) {
        matmul(a, b);
        long t0 = System.nanoTime();
        for (int i = 0; i < times; i++) {
            matmul(a, b);
        }
        return (System.nanoTime() - t0) / 1e9 / times;
    }
}
