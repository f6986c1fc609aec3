package dev.lory4j.autograd;

import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;

/** Reductions and their gradients (the output gradient broadcast back over the reduced axes). */
final class Reductions {
    private Reductions() {}

    /** The input shape with the reduced axes set to 1 (axes empty = all). */
    private static int[] keptShape(int[] shape, int[] axes) {
        int[] k = shape.clone();
        for (int a : Shapes.axes("reduce", axes, shape)) {
            k[a] = 1;
        }
        return k;
    }

    private static int count(int[] shape, int[] axes) {
        int n = 1;
        for (int a : Shapes.axes("reduce", axes, shape)) {
            n *= shape[a];
        }
        return n;
    }

    static Var sum(Var a, int[] axes, boolean keepDim) {
        int[] in = a.shape();
        int[] kept = keptShape(in, axes);
        return Var.result("sum", a.data().reduce(dev.lory4j.tensor.ReduceOp.SUM, keepDim, axes), new Var[] {a},
                (g, needs) -> new Tensor[] {g.reshape(kept).expand(in)});
    }

    static Var mean(Var a, int[] axes, boolean keepDim) {
        int[] in = a.shape();
        int[] kept = keptShape(in, axes);
        float inv = 1f / count(in, axes);
        return Var.result("mean", a.data().reduce(dev.lory4j.tensor.ReduceOp.MEAN, keepDim, axes),
                new Var[] {a}, (g, needs) -> new Tensor[] {g.reshape(kept).mul(inv).expand(in)});
    }

    static Var max(Var a, int[] axes, boolean keepDim) {
        Tensor x = a.data();
        int[] in = x.shape();
        int[] kept = keptShape(in, axes);
        Tensor out = x.reduce(dev.lory4j.tensor.ReduceOp.MAX, keepDim, axes);
        return Var.result("max", out, new Var[] {a}, (g, needs) -> {
            Tensor hit = x.eq(out.reshape(kept));
            Tensor ties = hit.sum(true, Shapes.axes("max", axes, in));
            return new Tensor[] {hit.mul(g.reshape(kept).div(ties))};
        });
    }

    static Var var(Var a, int[] axes, boolean keepDim, int correction) {
        Tensor x = a.data();
        int[] in = x.shape();
        int[] kept = keptShape(in, axes);
        int n = count(in, axes);
        Tensor out = x.var(keepDim, correction, axes);
        return Var.result("var", out, new Var[] {a}, (g, needs) -> {
            Tensor centered = x.sub(x.mean(true, Shapes.axes("var", axes, in)));
            return new Tensor[] {centered.mul(g.reshape(kept)).mul(2f / (n - correction))};
        });
    }
}
