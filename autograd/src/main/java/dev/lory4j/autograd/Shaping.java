package dev.lory4j.autograd;

import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;

/** View and joining ops; their gradients put the output gradient back where the input's elements came from. */
final class Shaping {
    private Shaping() {}

    static Var reshape(Var a, int[] shape) {
        int[] in = a.shape();
        return Var.result("reshape", a.data().reshape(shape), new Var[] {a},
                (g, needs) -> new Tensor[] {g.reshape(in)});
    }

    static Var transpose(Var a, int x, int y) {
        return Var.result("transpose", a.data().transpose(x, y), new Var[] {a},
                (g, needs) -> new Tensor[] {g.transpose(x, y)});
    }

    static Var permute(Var a, int[] order) {
        Tensor out = a.data().permute(order);
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[Shapes.axis("permute", order[i], order.length, a.shape())] = i;
        }
        return Var.result("permute", out, new Var[] {a}, (g, needs) -> new Tensor[] {g.permute(inverse)});
    }

    static Var slice(Var a, int axis, int start, int end) {
        Tensor out = a.data().slice(axis, start, end);
        int[] in = a.shape();
        int ax = Shapes.axis("slice", axis, in.length, in);
        return Var.result("slice", out, new Var[] {a}, (g, needs) -> {
            int[] before = new int[in.length];
            int[] after = new int[in.length];
            before[ax] = start < 0 ? start + in[ax] : start;
            after[ax] = in[ax] - (end < 0 ? end + in[ax] : end);
            return new Tensor[] {g.pad(before, after, 0f)}; // zeros around the slice's gradient
        });
    }

    static Var select(Var a, int axis, int index) {
        Tensor out = a.data().select(axis, index);
        int[] in = a.shape();
        int ax = Shapes.axis("select", axis, in.length, in);
        return Var.result("select", out, new Var[] {a}, (g, needs) -> {
            int[] before = new int[in.length];
            int[] after = new int[in.length];
            before[ax] = index < 0 ? index + in[ax] : index;
            after[ax] = in[ax] - before[ax] - 1;
            return new Tensor[] {g.unsqueeze(ax).pad(before, after, 0f)};
        });
    }

    static Var expand(Var a, int[] shape) {
        int[] in = a.shape();
        return Var.result("expand", a.data().expand(shape), new Var[] {a},
                (g, needs) -> new Tensor[] {Pointwise.unbroadcast(g, in)});
    }

    static Var unsqueeze(Var a, int axis) {
        int[] in = a.shape();
        return Var.result("unsqueeze", a.data().unsqueeze(axis), new Var[] {a},
                (g, needs) -> new Tensor[] {g.reshape(in)});
    }

    static Var squeeze(Var a, int axis) {
        int[] in = a.shape();
        return Var.result("squeeze", a.data().squeeze(axis), new Var[] {a},
                (g, needs) -> new Tensor[] {g.reshape(in)});
    }

    static Var concat(int axis, Var[] parts) {
        Tensor[] ts = new Tensor[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ts[i] = parts[i].data();
        }
        Tensor out = Tensor.concat(axis, ts);
        int a = Shapes.axis("concat", axis, out.rank(), out.shape());
        return Var.result("concat", out, parts, (g, needs) -> {
            Tensor[] gs = new Tensor[parts.length];
            int pos = 0;
            for (int i = 0; i < parts.length; i++) {
                int len = ts[i].dim(a);
                gs[i] = needs[i] ? g.slice(a, pos, pos + len) : null;
                pos += len;
            }
            return gs;
        });
    }

    static Var indexSelect(Var a, int axis, int[] index) {
        Tensor x = a.data();
        int ax = Shapes.axis("indexSelect", axis, x.rank(), x.shape());
        int[] in = x.shape();
        return Var.result("indexSelect", x.indexSelect(ax, index), new Var[] {a},
                (g, needs) -> new Tensor[] {Tensor.zeros(in).indexAdd(ax, index, g)});
    }

    static Var indexAdd(Var a, int axis, int[] index, Var src) {
        Tensor x = a.data();
        int ax = Shapes.axis("indexAdd", axis, x.rank(), x.shape());
        return Var.result("indexAdd", x.indexAdd(ax, index, src.data()), new Var[] {a, src},
                (g, needs) -> new Tensor[] {needs[0] ? g : null, needs[1] ? g.indexSelect(ax, index) : null});
    }

    static Var gather(Var a, int axis, int[] index, int[] indexShape) {
        Tensor x = a.data();
        int ax = Shapes.axis("gather", axis, x.rank(), x.shape());
        int[] in = x.shape();
        return Var.result("gather", x.gather(ax, index, indexShape), new Var[] {a},
                (g, needs) -> new Tensor[] {Tensor.zeros(in).scatterAdd(ax, index, indexShape, g)});
    }
}
