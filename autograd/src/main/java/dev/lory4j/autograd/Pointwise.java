package dev.lory4j.autograd;

import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import java.util.Arrays;

/** Elementwise ops and their gradients; broadcast inputs get their gradients summed back to their shapes. */
final class Pointwise {
    private Pointwise() {}

    /** Sums a broadcast gradient back to {@code shape} (leading dims, and dims that were size 1). */
    static Tensor unbroadcast(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) {
            return g;
        }
        int lead = gs.length - shape.length;
        int[] axes = new int[gs.length];
        int n = 0;
        for (int d = 0; d < gs.length; d++) {
            if (d < lead || (shape[d - lead] == 1 && gs[d] != 1)) {
                axes[n++] = d;
            }
        }
        Tensor s = n == 0 ? g : g.sum(true, Arrays.copyOf(axes, n));
        return s.reshape(shape);
    }

    static Var add(Var a, Var b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Var.result("add", a.data().add(b.data()), new Var[] {a, b},
                (g, needs) -> new Tensor[] {needs[0] ? unbroadcast(g, sa) : null, needs[1] ? unbroadcast(g, sb) : null});
    }

    static Var sub(Var a, Var b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        return Var.result("sub", a.data().sub(b.data()), new Var[] {a, b}, (g, needs) -> new Tensor[] {
            needs[0] ? unbroadcast(g, sa) : null, needs[1] ? unbroadcast(g.neg(), sb) : null});
    }

    static Var mul(Var a, Var b) {
        Tensor x = a.data();
        Tensor y = b.data();
        return Var.result("mul", x.mul(y), new Var[] {a, b}, (g, needs) -> new Tensor[] {
            needs[0] ? unbroadcast(g.mul(y), x.shape()) : null, needs[1] ? unbroadcast(g.mul(x), y.shape()) : null});
    }

    static Var div(Var a, Var b) {
        Tensor x = a.data();
        Tensor y = b.data();
        Tensor out = x.div(y);
        return Var.result("div", out, new Var[] {a, b}, (g, needs) -> new Tensor[] {
            needs[0] ? unbroadcast(g.div(y), x.shape()) : null,
            needs[1] ? unbroadcast(g.mul(out).div(y).neg(), y.shape()) : null});
    }

    static Var addScalar(Var a, float c) {
        return Var.result("add", a.data().add(c), new Var[] {a}, (g, needs) -> new Tensor[] {g});
    }

    static Var mulScalar(Var a, float c) {
        return Var.result("mul", a.data().mul(c), new Var[] {a}, (g, needs) -> new Tensor[] {g.mul(c)});
    }

    static Var pow(Var a, float p) {
        Tensor x = a.data();
        return Var.result("pow", x.pow(p), new Var[] {a},
                (g, needs) -> new Tensor[] {g.mul(x.pow(p - 1)).mul(p)});
    }

    static Var extreme(Var a, Var b, boolean max) {
        Tensor x = a.data();
        Tensor y = b.data();
        Tensor out = max ? x.maximum(y) : x.minimum(y);
        return Var.result(max ? "maximum" : "minimum", out, new Var[] {a, b}, (g, needs) -> {
            Tensor tie = x.eq(y).mul(0.5f);
            Tensor wa = (max ? x.gt(y) : x.lt(y)).add(tie);
            Tensor wb = (max ? y.gt(x) : y.lt(x)).add(tie);
            return new Tensor[] {needs[0] ? unbroadcast(g.mul(wa), x.shape()) : null,
                needs[1] ? unbroadcast(g.mul(wb), y.shape()) : null};
        });
    }

    private static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));

    static Var unary(Var a, UnaryOp op) {
        Tensor x = a.data();
        Tensor y = x.map(op);
        return Var.result(op.opName(), y, new Var[] {a}, (g, needs) -> new Tensor[] {g.mul(derivative(op, x, y))});
    }

    /** d op(x) / dx, given x and y = op(x). */
    private static Tensor derivative(UnaryOp op, Tensor x, Tensor y) {
        return switch (op) {
            case NEG -> Tensor.full(-1f, x.shape());
            case ABS -> x.gt(0f).sub(x.lt(0f));
            case EXP -> y;
            case LOG, RECIPROCAL -> op == UnaryOp.LOG ? x.reciprocal() : y.square().neg();
            case SQRT -> y.reciprocal().mul(0.5f);
            case RSQRT -> y.square().mul(y).mul(-0.5f);
            case TANH -> y.square().neg().add(1f);
            case SIGMOID -> y.mul(y.neg().add(1f));
            case SILU -> {
                Tensor s = x.sigmoid();
                yield s.mul(x.mul(s.neg().add(1f)).add(1f));
            }
            case GELU -> {
                // d/dx x*Phi(x) = Phi(x) + x*phi(x); Phi = gelu(x)/x (0.5 at x = 0).
                Tensor phiCdf = Tensor.where(x.eq(0f), Tensor.scalar(0.5f), y.div(x));
                Tensor pdf = x.square().mul(-0.5f).exp().mul(INV_SQRT_2PI);
                yield phiCdf.add(x.mul(pdf));
            }
            case RELU -> x.gt(0f);
            case SQUARE -> x.mul(2f);
        };
    }

    static Var where(Tensor cond, Var a, Var b) {
        Tensor out = Tensor.where(cond, a.data(), b.data());
        int[] sa = a.shape();
        int[] sb = b.shape();
        Tensor zero = Tensor.scalar(0f);
        return Var.result("where", out, new Var[] {a, b}, (g, needs) -> new Tensor[] {
            needs[0] ? unbroadcast(Tensor.where(cond, g, zero), sa) : null,
            needs[1] ? unbroadcast(Tensor.where(cond, zero, g), sb) : null});
    }

    static Var maskedFill(Var a, Tensor mask, float value) {
        return Var.result("maskedFill", a.data().maskedFill(mask, value), new Var[] {a, Var.scalar(value)},
                (g, needs) -> new Tensor[] {g.maskedFill(mask, 0f), null});
    }
}
