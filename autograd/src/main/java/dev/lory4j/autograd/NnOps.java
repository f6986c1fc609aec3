package dev.lory4j.autograd;

import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.Arrays;

/** Matmul, softmax, norms, embedding and dropout with their hand-written gradients. */
final class NnOps {
    private NnOps() {}

    static Var matmul(Var a, Var b) {
        if (a.rank() == 1 && b.rank() == 1) {
            return matmul(a.unsqueeze(0), b.unsqueeze(1)).reshape();
        }
        if (a.rank() == 1 && b.rank() >= 1) {
            return matmul(a.unsqueeze(0), b).squeeze(-2);
        }
        if (b.rank() == 1 && a.rank() >= 1) {
            return matmul(a, b.unsqueeze(1)).squeeze(-1);
        }
        Tensor x = a.data();
        Tensor y = b.data();
        Tensor out = x.matmul(y);
        return Var.result("matmul", out, new Var[] {a, b}, (g, needs) -> new Tensor[] {
            needs[0] ? operandGrad(g, y, x, true) : null,
            needs[1] ? operandGrad(g, x, y, false) : null});
    }

    /**
     * The gradient of one matmul operand (dA = g Bᵀ, dB = Aᵀ g). When the operand is a transposed view of a
     * contiguous tensor (weights used as {@code w.transpose(-1, -2)}), the gradient is computed directly in
     * that storage layout ((g Bᵀ)ᵀ = B gᵀ, (Aᵀ g)ᵀ = gᵀ A) and returned as the same transposed view, so the
     * backward of the transpose and of any reshape before it needs no copy.
     */
    private static Tensor operandGrad(Tensor g, Tensor other, Tensor operand, boolean left) {
        int[] shape = operand.shape();
        boolean sameBatch = java.util.Arrays.equals(g.shape(), outShapeFor(shape, other.shape(), left));
        if (sameBatch && operand.rank() >= 2 && !operand.isContiguous()
                && operand.transpose(-1, -2).isContiguous()) {
            Tensor stored = left ? other.matmul(g.transpose(-1, -2)) : g.transpose(-1, -2).matmul(other);
            return stored.transpose(-1, -2);
        }
        Tensor grad = left ? g.matmul(other.transpose(-1, -2)) : other.transpose(-1, -2).matmul(g);
        return Pointwise.unbroadcast(grad, shape);
    }

    /** The product's shape when the operand needs no broadcasting (else null-like mismatch). */
    private static int[] outShapeFor(int[] operand, int[] other, boolean left) {
        if (operand.length != other.length) {
            return new int[0];
        }
        int[] out = operand.clone();
        if (left) {
            out[out.length - 1] = other[other.length - 1];
        } else {
            out[out.length - 2] = other[other.length - 2];
        }
        for (int i = 0; i < out.length - 2; i++) {
            if (operand[i] != other[i]) {
                return new int[0];
            }
        }
        return out;
    }

    static Var softmax(Var a, int axis, boolean log) {
        Tensor x = a.data();
        int ax = Shapes.axis(log ? "logSoftmax" : "softmax", axis, x.rank(), x.shape());
        Tensor y = log ? x.logSoftmax(ax) : x.softmax(ax);
        boolean last = ax == x.rank() - 1;
        return Var.result(log ? "logSoftmax" : "softmax", y, new Var[] {a}, (g, needs) -> new Tensor[] {log
            ? g.sub(y.exp().mul(g.sum(true, ax)))
            : last ? y.softmaxBackward(g, 1f) : y.mul(g.sub(g.mul(y).sum(true, ax)))});
    }

    /** Softmax over the last axis with the causal mask of {@link Tensor#causalSoftmax} (masked entries 0). */
    static Var causalSoftmax(Var a) {
        Tensor y = a.data().causalSoftmax();
        return Var.result("causalSoftmax", y, new Var[] {a}, (g, needs) -> new Tensor[] {y.softmaxBackward(g, 1f)});
    }

    /** Sum over every axis but the last (the gradient of a per-feature weight). */
    private static Tensor sumToLast(Tensor t) {
        int r = t.rank();
        if (r == 1) {
            return t;
        }
        int[] axes = new int[r - 1];
        Arrays.setAll(axes, i -> i);
        return t.sum(false, axes);
    }

    static Var rmsNorm(Var a, Var weight, float eps) {
        Tensor x = a.data();
        Tensor w = weight == null ? null : weight.data();
        Tensor out = x.rmsNorm(w, eps);
        Var[] inputs = weight == null ? new Var[] {a} : new Var[] {a, weight};
        return Var.result("rmsNorm", out, inputs, (g, needs) -> {
            Tensor r = x.square().mean(true, -1).add(eps).rsqrt();
            Tensor xhat = x.mul(r);
            Tensor dxhat = w == null ? g : g.mul(w);
            Tensor dx = needs[0] ? r.mul(dxhat.sub(xhat.mul(dxhat.mul(xhat).mean(true, -1)))) : null;
            return w == null ? new Tensor[] {dx} : new Tensor[] {dx, needs[1] ? sumToLast(g.mul(xhat)) : null};
        });
    }

    static Var layerNorm(Var a, Var weight, Var bias, float eps) {
        Tensor x = a.data();
        Tensor w = weight == null ? null : weight.data();
        Tensor b = bias == null ? null : bias.data();
        Tensor out = x.layerNorm(w, b, eps);
        Var[] inputs = {a, weight == null ? Var.scalar(0) : weight, bias == null ? Var.scalar(0) : bias};
        return Var.result("layerNorm", out, inputs, (g, needs) -> {
            Tensor mu = x.mean(true, -1);
            Tensor centered = x.sub(mu);
            Tensor r = centered.square().mean(true, -1).add(eps).rsqrt();
            Tensor xhat = centered.mul(r);
            Tensor dxhat = w == null ? g : g.mul(w);
            Tensor dx = needs[0] ? r.mul(dxhat.sub(dxhat.mean(true, -1)).sub(xhat.mul(dxhat.mul(xhat).mean(true, -1))))
                    : null;
            return new Tensor[] {dx, needs[1] && w != null ? sumToLast(g.mul(xhat)) : null,
                needs[2] && b != null ? sumToLast(g) : null};
        });
    }

    static Var embedding(Var weight, int[] ids, int[] idShape) {
        Tensor w = weight.data();
        if (w.rank() != 2) {
            throw new IllegalArgumentException("embedding: weight must be [vocab, dim], got " + Shapes.str(w.shape()));
        }
        if (Shapes.numel(idShape) != ids.length) {
            throw new IllegalArgumentException("embedding: id shape " + Shapes.str(idShape) + " holds "
                    + Shapes.numel(idShape) + " ids but " + ids.length + " were given");
        }
        for (int id : ids) {
            if (id < 0 || id >= w.dim(0)) {
                throw new IndexOutOfBoundsException("embedding: token id " + id + " out of range for vocabulary of "
                        + w.dim(0));
            }
        }
        int d = w.dim(1);
        int[] outShape = Arrays.copyOf(idShape, idShape.length + 1);
        outShape[idShape.length] = d;
        Tensor out = w.indexSelect(0, ids).reshape(outShape);
        int[] ws = w.shape();
        return Var.result("embedding", out, new Var[] {weight}, (g, needs) -> new Tensor[] {
            Tensor.zeros(ws).indexAdd(0, ids, g.reshape(ids.length, d))});
    }

    static Var dropout(Var a, float p, Rng rng) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout: probability " + p + " must be in [0, 1)");
        }
        if (p == 0) {
            return a;
        }
        Tensor keep = rng.uniform(0f, 1f, a.shape()).ge(Tensor.scalar(p)).mul(1f / (1 - p));
        return Var.result("dropout", a.data().mul(keep), new Var[] {a}, (g, needs) -> new Tensor[] {g.mul(keep)});
    }
}
