package dev.lory4j.tensor;

import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Gemm;
import dev.lory4j.tensor.kernels.Norms;
import dev.lory4j.tensor.kernels.Reduce;
import dev.lory4j.tensor.kernels.Rows;
import dev.lory4j.tensor.kernels.Softmax;
import dev.lory4j.tensor.kernels.TopK;
import dev.lory4j.tensor.spi.Backend;
import java.util.Arrays;

/**
 * The default backend: Vector-API kernels on the CPU. It turns arbitrary strided views into long unit-stride
 * runs ({@link Iter}) or contiguous row blocks and hands those to the kernels in {@code tensor.kernels}.
 */
public final class CpuBackend implements Backend {
    /** Creates the CPU backend (stateless; kernels keep their own per-thread buffers). */
    public CpuBackend() {}

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String deviceName() {
        return "the CPU (Vector API, " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize()
                + "-bit vectors)";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Tensor copy(Tensor x) {
        return Tensor.copyOnHost(x);
    }

    @Override
    public Tensor concat(int axis, Tensor[] parts) {
        return Tensor.concatOnHost(axis, parts);
    }

    @Override
    public Tensor pad(Tensor x, int[] before, int[] after, float value) {
        return Tensor.padOnHost(x, before, after, value);
    }

    @Override
    public Tensor indexSelect(Tensor x, int axis, int[] index) {
        return Tensor.indexSelectOnHost(x, axis, index);
    }

    @Override
    public Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src) {
        return Tensor.indexAddOnHost(x, axis, index, src);
    }

    @Override
    public Tensor gather(Tensor x, int axis, int[] index, int[] indexShape) {
        return Tensor.gatherOnHost(x, axis, index, indexShape);
    }

    @Override
    public Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src) {
        return Tensor.scatterAddOnHost(x, axis, index, indexShape, src);
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        return Tensor.whereOnHost(cond, a, b);
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        int[] s = x.shape();
        Tensor out = Tensor.empty(s);
        float[] xd = x.data();
        float[] od = out.data();
        Iter.rows(s, new int[][] {x.strides(), out.strides()}, new int[] {x.offset(), 0}, true,
                (off, n, inc) -> Elementwise.unary(op, xd, off[0], inc[0], od, off[1], n));
        return out;
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int[] s = Shapes.broadcast(op.opName(), a.shape(), b.shape());
        Tensor x = a.expand(s);
        Tensor y = b.expand(s);
        Tensor out = Tensor.empty(s);
        float[] xd = x.data();
        float[] yd = y.data();
        float[] od = out.data();
        Iter.rows(s, new int[][] {x.strides(), y.strides(), out.strides()}, new int[] {x.offset(), y.offset(), 0},
                true, (off, n, inc) -> Elementwise.binary(op, xd, off[0], inc[0], yd, off[1], inc[1], od, off[2], n));
        return out;
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        int[] shape = x.shape();
        int[] red = Shapes.axes(op.opName(), axes, shape);
        boolean[] isRed = new boolean[shape.length];
        int count = 1;
        for (int a : red) {
            isRed[a] = true;
            count *= shape[a];
        }
        int[] perm = new int[shape.length];
        int k = 0;
        for (int d = 0; d < shape.length; d++) {
            if (!isRed[d]) {
                perm[k++] = d;
            }
        }
        int kept = k;
        for (int a : red) {
            perm[k++] = a;
        }
        int[] outShape = new int[keepDim ? shape.length : kept];
        for (int d = 0, j = 0; d < shape.length; d++) {
            if (keepDim) {
                outShape[d] = isRed[d] ? 1 : shape[d];
            } else if (!isRed[d]) {
                outShape[j++] = shape[d];
            }
        }
        int rows = Shapes.numel(outShape);
        if (count == 0 && rows > 0 && (op == ReduceOp.MAX || op == ReduceOp.MIN)) {
            throw new IllegalArgumentException(op.opName() + ": empty reduction over axes " + Arrays.toString(red)
                    + " of shape " + Shapes.str(shape) + " has no identity");
        }
        float[] out = new float[rows];
        if (count == 0) {
            Arrays.fill(out, op == ReduceOp.SUM ? 0f : Float.NaN);
            return Tensor.contiguousOver(out, outShape);
        }
        boolean prefix = true;
        for (int i = 0; i < red.length; i++) {
            prefix &= red[i] == i;
        }
        Tensor moved = x.permute(perm);
        if (!moved.isContiguous() && x.isContiguous() && prefix) {
            reduceColumns(op, x.data(), x.offset(), count, rows, out);
        } else {
            Tensor m = moved.contiguous();
            float[] d = m.data();
            int base = m.offset();
            int cols = count;
            Rows.forRows(rows, cols, r -> out[r] = reduceRow(op, d, base + r * cols, cols));
        }
        if (op == ReduceOp.MEAN) {
            Elementwise.scale(1f / count, out, 0, rows);
        }
        return Tensor.contiguousOver(out, outShape);
    }

    private static float reduceRow(ReduceOp op, float[] d, int off, int n) {
        return switch (op) {
            case SUM, MEAN -> Reduce.sum(d, off, n);
            case MAX -> Reduce.max(d, off, n);
            case MIN -> Reduce.min(d, off, n);
        };
    }

    /** Reduces {@code count} consecutive blocks of {@code inner} floats into one block (leading-axis reduction). */
    private static void reduceColumns(ReduceOp op, float[] x, int off, int count, int inner, float[] out) {
        BinaryOp combine = switch (op) {
            case SUM, MEAN -> BinaryOp.ADD;
            case MAX -> BinaryOp.MAX;
            case MIN -> BinaryOp.MIN;
        };
        System.arraycopy(x, off, out, 0, inner);
        for (int i = 1; i < count; i++) {
            Elementwise.binary(combine, out, 0, 1, x, off + i * inner, 1, out, 0, inner);
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        if (sa.length == 0 || sb.length == 0) {
            throw new IllegalArgumentException("matmul: " + Shapes.str(sa) + " x " + Shapes.str(sb)
                    + ": scalars have no matrix product");
        }
        boolean vecA = sa.length == 1;
        boolean vecB = sb.length == 1;
        Tensor x = vecA ? a.unsqueeze(0) : a;
        Tensor y = vecB ? b.unsqueeze(1) : b;
        int[] xs = x.shape();
        int[] ys = y.shape();
        int m = xs[xs.length - 2];
        int kx = xs[xs.length - 1];
        int ky = ys[ys.length - 2];
        int n = ys[ys.length - 1];
        if (kx != ky) {
            throw new IllegalArgumentException("matmul: " + Shapes.str(sa) + " x " + Shapes.str(sb)
                    + ": inner dimensions " + kx + " and " + ky + " differ");
        }
        int[] batchX = Arrays.copyOf(xs, xs.length - 2);
        int[] batchY = Arrays.copyOf(ys, ys.length - 2);
        int[] batch;
        try {
            batch = Shapes.broadcast("matmul", batchX, batchY);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("matmul: " + Shapes.str(sa) + " x " + Shapes.str(sb)
                    + ": batch dimensions " + Shapes.str(batchX) + " and " + Shapes.str(batchY)
                    + " cannot be broadcast", e);
        }
        int batchCount = Shapes.numel(batch);
        Operand ox = Operand.of(x, batch, m, kx);
        Operand oy = Operand.of(y, batch, kx, n);
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Tensor.empty(outShape);
        if (batchCount > 0 && m > 0 && n > 0) {
            Gemm.sgemmBatched(batchCount, ox.trans, oy.trans, m, n, kx, 1f,
                    ox.t.data(), ox.t.offset(), ox.batchStride, ox.ld,
                    oy.t.data(), oy.t.offset(), oy.batchStride, oy.ld,
                    0f, out.data(), 0, m * n, n);
        }
        Tensor r = out;
        if (vecA) {
            r = r.squeeze(-2);
        }
        if (vecB) {
            r = r.squeeze(-1);
        }
        return r;
    }

    /** One matmul operand as GEMM sees it: a matrix layout (plain or transposed) and one batch stride. */
    private record Operand(Tensor t, boolean trans, int ld, int batchStride) {
        static Operand of(Tensor t, int[] batch, int rows, int cols) {
            Tensor e = t.expand(withMatrix(batch, rows, cols));
            Operand o = tryLayout(e, batch.length, rows, cols);
            if (o == null) {
                o = tryLayout(e.contiguous(), batch.length, rows, cols);
            }
            return o;
        }

        private static int[] withMatrix(int[] batch, int rows, int cols) {
            int[] s = Arrays.copyOf(batch, batch.length + 2);
            s[batch.length] = rows;
            s[batch.length + 1] = cols;
            return s;
        }

        /** The GEMM view of {@code t}, or null when its strides need a copy first. */
        private static Operand tryLayout(Tensor t, int nb, int rows, int cols) {
            int[] st = t.strides();
            int[] sh = t.shape();
            int rs = st[nb];
            int cs = st[nb + 1];
            boolean trans;
            int ld;
            if ((cs == 1 || cols <= 1) && (rs >= cols || rows <= 1)) {
                trans = false;
                ld = rows <= 1 ? Math.max(cols, 1) : rs;
            } else if ((rs == 1 || rows <= 1) && (cs >= rows || cols <= 1)) {
                trans = true;
                ld = cols <= 1 ? Math.max(rows, 1) : cs;
            } else {
                return null;
            }
            // All batch dims must collapse to one stride (broadcast dims have stride 0).
            int bstride = 0;
            boolean first = true;
            for (int d = nb - 1; d >= 0; d--) {
                if (sh[d] == 1) {
                    continue;
                }
                if (first) {
                    bstride = st[d];
                    first = false;
                } else {
                    int inner = 1;
                    for (int e = d + 1; e < nb; e++) {
                        inner *= sh[e];
                    }
                    if (st[d] != bstride * inner) {
                        return null;
                    }
                }
            }
            return new Operand(t, trans, ld, bstride);
        }
    }

    @Override
    public Tensor softmax(Tensor x, int axis, boolean log) {
        int last = x.rank() - 1;
        Tensor moved = (axis == last ? x : x.transpose(axis, last)).contiguous();
        int cols = x.dim(axis);
        int rows = cols == 0 ? 0 : moved.numel() / cols;
        Tensor out = Tensor.empty(moved.shape());
        if (log) {
            Softmax.logSoftmaxRows(moved.data(), moved.offset(), out.data(), 0, rows, cols);
        } else {
            Softmax.softmaxRows(moved.data(), moved.offset(), out.data(), 0, rows, cols);
        }
        return axis == last ? out : out.transpose(axis, last).contiguous();
    }

    @Override
    public Tensor topKMask(Tensor x, int axis, int k) {
        if (x.rank() == 0 || axis < 0 || axis >= x.rank() || k < 0) {
            throw new IllegalArgumentException("topKMask: axis " + axis + " and k " + k + " for "
                    + Shapes.str(x.shape()) + " (want axis in [0, rank) and k >= 0)");
        }
        int last = x.rank() - 1;
        Tensor moved = (axis == last ? x : x.transpose(axis, last)).contiguous();
        int len = x.dim(axis);
        Tensor out = Tensor.zeros(moved.shape());
        if (len > 0) {
            TopK.maskLines(moved.data(), moved.offset(), out.data(), moved.numel() / len, len, k);
        }
        return axis == last ? out : out.transpose(axis, last).contiguous();
    }

    @Override
    public Tensor causalSoftmax(Tensor x) {
        if (x.rank() < 2 || x.dim(-2) > x.dim(-1)) {
            throw new IllegalArgumentException("causalSoftmax: need [..., Lq, Lk] with Lq <= Lk, got "
                    + Shapes.str(x.shape()));
        }
        Tensor c = x.contiguous();
        int cols = x.dim(-1);
        Tensor out = Tensor.empty(x.shape());
        int rows = cols == 0 ? 0 : c.numel() / cols;
        Softmax.causalSoftmaxRows(c.data(), c.offset(), out.data(), 0, rows, cols, x.dim(-2));
        return out;
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
        if (!Arrays.equals(y.shape(), g.shape()) || y.rank() == 0) {
            throw new IllegalArgumentException("softmaxBackward: shapes " + Shapes.str(y.shape()) + " and "
                    + Shapes.str(g.shape()) + " must be equal and not scalar");
        }
        Tensor yc = y.contiguous();
        Tensor gc = g.contiguous();
        int cols = y.dim(-1);
        Tensor out = Tensor.empty(y.shape());
        int rows = cols == 0 ? 0 : yc.numel() / cols;
        Softmax.backwardRows(yc.data(), yc.offset(), gc.data(), gc.offset(), out.data(), 0, rows, cols, scale);
        return out;
    }

    private static Tensor normParam(String op, String what, Tensor p, int[] xs) {
        if (p == null) {
            return null;
        }
        int d = xs[xs.length - 1];
        if (p.rank() != 1 || p.dim(0) != d) {
            throw new IllegalArgumentException(op + ": " + what + " shape " + Shapes.str(p.shape())
                    + " should be [" + d + "] for input shape " + Shapes.str(xs));
        }
        return p.contiguous();
    }

    private static int[] normShape(String op, Tensor x) {
        int[] xs = x.shape();
        if (xs.length == 0) {
            throw new IllegalArgumentException(op + ": input must have at least one dimension, got a scalar");
        }
        return xs;
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        int[] xs = normShape("rmsNorm", x);
        Tensor w = normParam("rmsNorm", "weight", weight, xs);
        Tensor c = x.contiguous();
        int cols = xs[xs.length - 1];
        int rows = cols == 0 ? 0 : c.numel() / cols;
        Tensor out = Tensor.empty(xs);
        Norms.rmsNormRows(c.data(), c.offset(), w == null ? null : w.data(), w == null ? 0 : w.offset(), eps,
                out.data(), 0, rows, cols, null, 0);
        return out;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        int[] xs = normShape("layerNorm", x);
        Tensor w = normParam("layerNorm", "weight", weight, xs);
        Tensor b = normParam("layerNorm", "bias", bias, xs);
        Tensor c = x.contiguous();
        int cols = xs[xs.length - 1];
        int rows = cols == 0 ? 0 : c.numel() / cols;
        Tensor out = Tensor.empty(xs);
        Norms.layerNormRows(c.data(), c.offset(), w == null ? null : w.data(), w == null ? 0 : w.offset(),
                b == null ? null : b.data(), b == null ? 0 : b.offset(), eps, out.data(), 0, rows, cols,
                null, null, 0);
        return out;
    }
}
