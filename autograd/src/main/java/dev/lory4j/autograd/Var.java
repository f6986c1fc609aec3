package dev.lory4j.autograd;

import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A differentiable value: a {@link Tensor}, whether it requires a gradient, and (when it was computed by an op
 * while grad mode was on) the {@link Node} that made it. {@link #backward()} walks the graph in reverse
 * topological order (iteratively, so deep graphs cannot overflow the stack), accumulates gradients into the
 * leaves' {@link #grad()}, and frees the graph.
 *
 * <p>Operations are instance methods that read like PyTorch ({@code x.matmul(w.t()).add(b).silu()}); their
 * forward and backward code lives in the package-private op classes ({@code Pointwise}, {@code Shaping},
 * {@code Reductions}, {@code NnOps}).
 */
public final class Var {
    private Tensor data;
    private Tensor grad;
    private final boolean requiresGrad;
    private Node node;

    Var(Tensor data, boolean requiresGrad, Node node) {
        this.data = data;
        this.requiresGrad = requiresGrad;
        this.node = node;
    }

    /** A constant (no gradient). */
    public static Var of(Tensor t) {
        return new Var(t, false, null);
    }

    /** A leaf that requires a gradient (a parameter or an input to differentiate). */
    public static Var param(Tensor t) {
        return new Var(t, true, null);
    }

    /** A constant scalar. */
    public static Var scalar(float v) {
        return of(Tensor.scalar(v));
    }

    /**
     * Records an op result: {@code backward} maps the output gradient to one gradient per input (null where an
     * input needs none). Without grad mode or differentiable inputs the result is a constant.
     */
    static Var result(String op, Tensor out, Var[] inputs, Node.Backward backward) {
        if (Anomaly.isEnabled()) {
            Anomaly.checkForward(op, out, inputs);
        }
        if (!NoGrad.isGradEnabled()) {
            return of(out);
        }
        for (Var v : inputs) {
            if (v.requiresGrad) {
                return new Var(out, true, new Node(op, inputs, backward));
            }
        }
        return of(out);
    }

    /** The gradient function of a custom op: one gradient per input (null where needs[i] is false or none). */
    @FunctionalInterface
    public interface Backward {
        /** Maps the output gradient to the input gradients. */
        Tensor[] apply(Tensor gradOutput, boolean[] needs);
    }

    /**
     * A custom differentiable op (like PyTorch's {@code autograd.Function}): {@code out} was computed from the
     * inputs' values, and {@code backward} returns each input's gradient. Used for fused layers whose
     * backward recomputes what the forward did not keep; check it with {@link GradCheck}.
     */
    public static Var custom(String op, Tensor out, Var[] inputs, Backward backward) {
        return result(op, out, inputs, backward::apply);
    }

    /** The value. */
    public Tensor data() {
        return data;
    }

    /** Replaces the value of a leaf (e.g. loading weights); the shape must not change. */
    public void setData(Tensor t) {
        if (node != null) {
            throw new IllegalStateException("setData: only leaves can be assigned, this value was made by '"
                    + node.op() + "'");
        }
        if (!Arrays.equals(t.shape(), data.shape())) {
            throw new IllegalArgumentException("setData: shape " + Shapes.str(t.shape()) + " differs from "
                    + Shapes.str(data.shape()));
        }
        this.data = t;
    }

    /** The accumulated gradient (null before any backward reached this leaf, or after {@link #zeroGrad()}). */
    public Tensor grad() {
        return grad;
    }

    /** Sets the accumulated gradient (optimizers and gradient clipping use this; null clears it). */
    public void setGrad(Tensor g) {
        if (g != null && !Arrays.equals(g.shape(), data.shape())) {
            throw new IllegalArgumentException("setGrad: gradient shape " + Shapes.str(g.shape())
                    + " differs from value shape " + Shapes.str(data.shape()));
        }
        this.grad = g;
    }

    /** Clears the gradient. */
    public void zeroGrad() {
        if (grad != null) {
            Backends.current().release(grad); // a device backend may reuse the buffer it kept this gradient in
        }
        grad = null;
    }

    /** Whether gradients flow to or through this value. */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** True for values not produced by a recorded op. */
    public boolean isLeaf() {
        return node == null;
    }

    /** The op that produced this value, or null for leaves and freed graphs. */
    public String op() {
        return node == null ? null : node.op();
    }

    /** The shape of the value. */
    public int[] shape() {
        return data.shape();
    }

    /** Size of one dimension (negative counts from the end). */
    public int dim(int axis) {
        return data.dim(axis);
    }

    /** Number of dimensions. */
    public int rank() {
        return data.rank();
    }

    /** The value of a one-element tensor. */
    public float item() {
        return data.item();
    }

    /** The same value cut off from the graph (a stop-gradient). */
    public Var detach() {
        return of(data);
    }

    /** Backpropagates from this scalar (d this / d this = 1) and frees the graph. */
    public void backward() {
        if (data.numel() != 1) {
            throw new IllegalArgumentException("backward: output of shape " + Shapes.str(data.shape())
                    + " is not a scalar; pass a gradient of the same shape");
        }
        backward(Tensor.ones(data.shape()), false);
    }

    /** Backpropagates {@code gradOutput} (same shape as this value); keeps the graph if {@code retainGraph}. */
    public void backward(Tensor gradOutput, boolean retainGraph) {
        if (!requiresGrad) {
            throw new IllegalStateException("backward: this value does not require a gradient (no parameter "
                    + "reaches it, or it was computed under NoGrad)");
        }
        if (!Arrays.equals(gradOutput.shape(), data.shape())) {
            throw new IllegalArgumentException("backward: gradient shape " + Shapes.str(gradOutput.shape())
                    + " differs from output shape " + Shapes.str(data.shape()));
        }
        List<Var> order = topologicalOrder();
        Map<Var, Tensor> grads = new IdentityHashMap<>();
        grads.put(this, gradOutput);
        for (int i = order.size() - 1; i >= 0; i--) {
            Var v = order.get(i);
            Tensor g = grads.remove(v);
            if (g == null) {
                continue;
            }
            Node n = v.node;
            if (n == null) {
                v.grad = v.grad == null ? g.contiguous() : v.grad.add(g);
                continue;
            }
            Var[] in = n.inputs();
            boolean[] needs = new boolean[in.length];
            for (int j = 0; j < in.length; j++) {
                needs[j] = in[j].requiresGrad;
            }
            Tensor[] gs = n.backward().apply(g, needs);
            if (Anomaly.isEnabled()) {
                Anomaly.checkBackward(n.op(), g, gs, in);
            }
            for (int j = 0; j < in.length; j++) {
                if (!needs[j] || gs[j] == null) {
                    continue;
                }
                if (!Arrays.equals(gs[j].shape(), in[j].data.shape())) {
                    throw new IllegalStateException("backward of '" + n.op() + "' returned gradient shape "
                            + Shapes.str(gs[j].shape()) + " for input " + j + " of shape "
                            + Shapes.str(in[j].data.shape()));
                }
                Tensor prev = grads.get(in[j]);
                grads.put(in[j], prev == null ? gs[j] : prev.add(gs[j]));
            }
            if (!retainGraph) {
                v.node = null;
            }
        }
    }

    /** Values reachable from this one that require grad, each after all of its inputs (iterative DFS). */
    private List<Var> topologicalOrder() {
        List<Var> order = new ArrayList<>();
        Map<Var, Boolean> seen = new IdentityHashMap<>();
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {this, 0});
        seen.put(this, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Var v = (Var) top[0];
            int next = (Integer) top[1];
            Var[] in = v.node == null ? new Var[0] : v.node.inputs();
            if (next < in.length) {
                top[1] = next + 1;
                Var c = in[next];
                if (c.requiresGrad && seen.put(c, Boolean.TRUE) == null) {
                    stack.push(new Object[] {c, 0});
                }
            } else {
                stack.pop();
                order.add(v);
            }
        }
        return order;
    }

    @Override
    public String toString() {
        return "Var(" + data + (requiresGrad ? ", requiresGrad" : "") + (node != null ? ", op=" + node.op() : "")
                + ")";
    }

    // ------------------------------------------------------------------ arithmetic (broadcasting)

    /** this + other. */
    public Var add(Var other) {
        return Pointwise.add(this, other);
    }

    /** this + c. */
    public Var add(float c) {
        return Pointwise.addScalar(this, c);
    }

    /** this - other. */
    public Var sub(Var other) {
        return Pointwise.sub(this, other);
    }

    /** this - c. */
    public Var sub(float c) {
        return Pointwise.addScalar(this, -c);
    }

    /** this * other. */
    public Var mul(Var other) {
        return Pointwise.mul(this, other);
    }

    /** this * c. */
    public Var mul(float c) {
        return Pointwise.mulScalar(this, c);
    }

    /** this / other. */
    public Var div(Var other) {
        return Pointwise.div(this, other);
    }

    /** this / c. */
    public Var div(float c) {
        return Pointwise.mulScalar(this, 1f / c);
    }

    /** this ^ p for a constant exponent. */
    public Var pow(float p) {
        return Pointwise.pow(this, p);
    }

    /** Elementwise maximum (the gradient goes to the larger input; ties split evenly). */
    public Var maximum(Var other) {
        return Pointwise.extreme(this, other, true);
    }

    /** Elementwise minimum (the gradient goes to the smaller input; ties split evenly). */
    public Var minimum(Var other) {
        return Pointwise.extreme(this, other, false);
    }

    /** -this. */
    public Var neg() {
        return Pointwise.mulScalar(this, -1f);
    }

    /** |this| (gradient sign(x), 0 at 0). */
    public Var abs() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.ABS);
    }

    /** e^this. */
    public Var exp() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.EXP);
    }

    /** Natural logarithm. */
    public Var log() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.LOG);
    }

    /** Square root. */
    public Var sqrt() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.SQRT);
    }

    /** 1/sqrt(this). */
    public Var rsqrt() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.RSQRT);
    }

    /** Hyperbolic tangent. */
    public Var tanh() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.TANH);
    }

    /** Logistic sigmoid. */
    public Var sigmoid() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.SIGMOID);
    }

    /** x * sigmoid(x). */
    public Var silu() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.SILU);
    }

    /** GELU (exact erf form). */
    public Var gelu() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.GELU);
    }

    /** max(x, 0) (gradient 0 at 0). */
    public Var relu() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.RELU);
    }

    /** x^2. */
    public Var square() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.SQUARE);
    }

    /** 1/x. */
    public Var reciprocal() {
        return Pointwise.unary(this, dev.lory4j.tensor.UnaryOp.RECIPROCAL);
    }

    /** Picks this where {@code cond} (a constant) is non-zero, else {@code other}; gradients follow the pick. */
    public Var where(Tensor cond, Var other) {
        return Pointwise.where(cond, this, other);
    }

    /** A copy with {@code value} where the constant {@code mask} is non-zero (no gradient there). */
    public Var maskedFill(Tensor mask, float value) {
        return Pointwise.maskedFill(this, mask, value);
    }

    // ------------------------------------------------------------------ shape

    /** Reshape (one dimension may be -1). */
    public Var reshape(int... shape) {
        return Shaping.reshape(this, shape);
    }

    /** Swap two dimensions (a view). */
    public Var transpose(int a, int b) {
        return Shaping.transpose(this, a, b);
    }

    /** Transpose of a 2-D value. */
    public Var t() {
        if (rank() != 2) {
            throw new IllegalArgumentException("t: expects a 2-D value, got shape " + Shapes.str(shape()));
        }
        return transpose(0, 1);
    }

    /** Reorder dimensions (a view). */
    public Var permute(int... order) {
        return Shaping.permute(this, order);
    }

    /** Indices [start, end) along an axis (a view). */
    public Var slice(int axis, int start, int end) {
        return Shaping.slice(this, axis, start, end);
    }

    /** One index along an axis, dropping it (a view). */
    public Var select(int axis, int index) {
        return Shaping.select(this, axis, index);
    }

    /** Broadcast to a shape (a view; gradients are summed back). */
    public Var expand(int... shape) {
        return Shaping.expand(this, shape);
    }

    /** Insert a size-1 dimension. */
    public Var unsqueeze(int axis) {
        return Shaping.unsqueeze(this, axis);
    }

    /** Remove a size-1 dimension. */
    public Var squeeze(int axis) {
        return Shaping.squeeze(this, axis);
    }

    /** Pieces of the given sizes along an axis. */
    public Var[] split(int axis, int... sizes) {
        int a = Shapes.axis("split", axis, rank(), shape());
        Tensor[] probe = data.split(a, sizes); // validates the sizes
        Var[] out = new Var[probe.length];
        int pos = 0;
        for (int i = 0; i < probe.length; i++) {
            out[i] = slice(a, pos, pos + sizes[i]);
            pos += sizes[i];
        }
        return out;
    }

    /** Slices along {@code axis} picked by {@code index} (repeats allowed); gradients are summed back. */
    public Var indexSelect(int axis, int[] index) {
        return Shaping.indexSelect(this, axis, index);
    }

    /** This plus {@code src}'s slice i added at slice {@code index[i]} along {@code axis} (repeats sum). */
    public Var indexAdd(int axis, int[] index, Var src) {
        return Shaping.indexAdd(this, axis, index, src);
    }

    /** torch.gather: out[..i..] = this[..index[..i..]..] along {@code axis}; index has this value's rank. */
    public Var gather(int axis, int[] index, int... indexShape) {
        return Shaping.gather(this, axis, index, indexShape);
    }

    /** Joins values along an axis. */
    public static Var concat(int axis, Var... parts) {
        return Shaping.concat(axis, parts);
    }

    /** Stacks equal-shaped values along a new axis. */
    public static Var stack(int axis, Var... parts) {
        Var[] u = new Var[parts.length];
        for (int i = 0; i < parts.length; i++) {
            u[i] = parts[i].unsqueeze(axis);
        }
        return concat(axis, u);
    }

    // ------------------------------------------------------------------ reductions

    /** Sum of all elements. */
    public Var sum() {
        return Reductions.sum(this, new int[0], false);
    }

    /** Sum over axes. */
    public Var sum(boolean keepDim, int... axes) {
        return Reductions.sum(this, requireAxes("sum", axes), keepDim);
    }

    /** Mean of all elements. */
    public Var mean() {
        return Reductions.mean(this, new int[0], false);
    }

    /** Mean over axes. */
    public Var mean(boolean keepDim, int... axes) {
        return Reductions.mean(this, requireAxes("mean", axes), keepDim);
    }

    /** Maximum over axes (gradient split evenly among ties). */
    public Var max(boolean keepDim, int... axes) {
        return Reductions.max(this, requireAxes("max", axes), keepDim);
    }

    /** Variance over axes with Bessel's correction (1 = unbiased). */
    public Var var(boolean keepDim, int correction, int... axes) {
        return Reductions.var(this, requireAxes("var", axes), keepDim, correction);
    }

    private static int[] requireAxes(String op, int[] axes) {
        if (axes.length == 0) {
            throw new IllegalArgumentException(op + ": no axes given; call " + op + "() to reduce over all axes");
        }
        return axes;
    }

    // ------------------------------------------------------------------ linear algebra and nn

    /** Matrix product (NumPy semantics, broadcast batch dimensions). */
    public Var matmul(Var other) {
        return NnOps.matmul(this, other);
    }

    /** x · Wᵀ for this x [..., in] and W [out, in]: a linear layer (PyTorch's {@code F.linear} without bias). */
    public Var linear(Var weight) {
        return Composites.linear(this, weight);
    }

    /** Softmax along an axis. */
    public Var softmax(int axis) {
        return NnOps.softmax(this, axis, false);
    }

    /** Log-softmax along an axis. */
    public Var logSoftmax(int axis) {
        return NnOps.softmax(this, axis, true);
    }

    /** RMSNorm over the last axis with a learned weight (or null). */
    public Var rmsNorm(Var weight, float eps) {
        return NnOps.rmsNorm(this, weight, eps);
    }

    /** LayerNorm over the last axis with learned weight and bias (either may be null). */
    public Var layerNorm(Var weight, Var bias, float eps) {
        return NnOps.layerNorm(this, weight, bias, eps);
    }

    /** Rows of this [vocab, dim] table picked by {@code ids} (shape {@code idShape}): [idShape..., dim]. */
    public Var embedding(int[] ids, int... idShape) {
        return NnOps.embedding(this, ids, idShape);
    }

    /**
     * Mean cross-entropy of these logits [..., classes] against integer targets (one per row), skipping rows
     * whose target is {@code ignoreIndex}; fused log-softmax + NLL.
     */
    public Var crossEntropy(int[] targets, int ignoreIndex) {
        return Composites.CROSS_ENTROPY.apply(new Composites.Targets(targets, ignoreIndex), this);
    }

    /**
     * The mean cross-entropy of the logits this · weightᵀ (this [..., d], weight [V, d]: a language model's head)
     * against one target per row, rows with {@code ignoreIndex} skipped: the composite op
     * {@link Composites#LINEAR_CROSS_ENTROPY}, whose reference is {@code linear(weight).crossEntropy(targets,
     * ignoreIndex)} and which a device backend may run without handing out the logits.
     */
    public Var linearCrossEntropy(Var weight, int[] targets, int ignoreIndex) {
        return Composites.LINEAR_CROSS_ENTROPY.apply(new Composites.Targets(targets, ignoreIndex), this, weight);
    }

    /** Softmax over the last axis of [..., Lq, Lk] where query i sees keys j ≤ i + Lk − Lq (masked entries 0). */
    public Var causalSoftmax() {
        return NnOps.causalSoftmax(this);
    }

    /**
     * Scaled dot-product attention softmax(q kT * scale [+ causal mask]) v for q [..., Lq, D], k [..., Lk, D],
     * v [..., Lk, Dv]; causal queries are aligned to the last keys (a KV cache). The composite op
     * {@link Composites#ATTENTION}.
     */
    public static Var attention(Var q, Var k, Var v, boolean causal, float scale) {
        return Composites.ATTENTION.apply(new Composites.Attention(causal, scale), q, k, v);
    }

    /** Zeroes each element with probability p and scales the rest by 1/(1-p). */
    public Var dropout(float p, dev.lory4j.tensor.Rng rng) {
        return NnOps.dropout(this, p, rng);
    }
}
