package dev.lory4j.accel;

import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The task sequences of a decoder's blocks, added to a graph of a {@link ParamPlan} (whose id and grid scheduler name
 * the tasks): the attention block, the SwiGLU block, the Lory feed-forward block and the head with its loss, each
 * forward and backward. The block plans run one block each (the composite kernels of {@link TornadoComposites}). Each graph
 * name {@code name} is the graph's suffix after the plan id; {@code scratch.apply(slot, size)} gives device-only
 * intermediates (never copied), which every method declares as such on the graph.
 */
final class Blocks {
    private Blocks() {
    }

    /** The sizes of an attention block: B rows of L tokens, H heads of size D, d inputs, d' outputs. */
    record Attention(int b, int l, int heads, int dim, int d, int dOut) {
        int n() {
            return b * l;
        }

        int h() {
            return heads * dim;
        }

        float scale() {
            return (float) (1 / Math.sqrt(dim));
        }
    }

    /** Adds a batched product task {@code name.task} (batch products of (m, n, k), operands possibly transposed). */
    static TaskGraph product(ParamPlan p, TaskGraph g, String name, String task, int m, int n, int k, boolean ta,
                             boolean tb, int batch, float[] left, float[] right, float[] out) {
        p.grids.addWorkerGrid(p.id + name + "." + task, TornadoBackend.workers(TornadoBackend.matmulGrid(batch, m, n)));
        return TornadoBackend.matmulTask(task, m, n, k, ta, tb).add(g, new float[][] {left, right}, out);
    }

    /** Registers the 1-D grid of {@code items} work items for task {@code name.task}. */
    static void grid(ParamPlan p, String name, String task, int items) {
        p.grids.addWorkerGrid(p.id + name + "." + task, TornadoBackend.workers(new int[] {items}));
    }

    /** y = attention(x) through the output projection: w = {Wq, Wk, Wv, Wo}. */
    static TaskGraph attention(ParamPlan p, TaskGraph g, String name, Attention a, float[] x, float[] cos,
                               float[] sin, float[][] w, float[] y, BiFunction<Integer, Integer, float[]> scratch) {
        float[] o2 = scratch.apply(70, a.n() * a.h());
        g = attended(p, g, name, a, x, cos, sin, w, scratch);
        return product(p, g, name, "y", a.n(), a.dOut(), a.h(), false, true, 1, o2, w[3], y)
                .transferToHost(DataTransferMode.UNDER_DEMAND, forwardScratch(a, scratch));
    }

    /**
     * The attention block's backward pass: it recomputes the forward pass from x, then dWo = dyᵀ o, do = dy Wo, the
     * attention gradients, the rotation undone on dq and dk, dx = dq Wq + dk Wk + dv Wv and dW = dᵀ x for the three
     * projections, into gw = {dWq, dWk, dWv, dWo}.
     */
    static TaskGraph attentionBackward(ParamPlan p, TaskGraph g, String name, Attention a, float[] x, float[] dy,
                                       float[] cos, float[] sin, float[][] w, float[][] gw, float[] dx,
                                       BiFunction<Integer, Integer, float[]> scratch) {
        int n = a.n();
        int h = a.h();
        int d = a.d();
        int z = a.b() * a.heads();
        int l = a.l();
        float[][] qkv = {scratch.apply(63, n * h), scratch.apply(64, n * h), scratch.apply(65, n * h)};
        float[] pr = scratch.apply(68, z * l * l);
        float[] o2 = scratch.apply(70, n * h);
        float[] do2 = scratch.apply(71, n * h);
        float[] dO = scratch.apply(72, n * h);
        float[] dp = scratch.apply(73, z * l * l);
        float[] ds = scratch.apply(74, z * l * l);
        float[][] dqkv = {scratch.apply(75, n * h), scratch.apply(76, n * h), scratch.apply(77, n * h)};
        float[][] drows = {scratch.apply(78, n * h), scratch.apply(79, n * h), scratch.apply(80, n * h)};
        float[][] dxs = {scratch.apply(81, n * d), scratch.apply(82, n * d), scratch.apply(83, n * d)};
        float[] dx01 = scratch.apply(84, n * d);
        g = attended(p, g, name, a, x, cos, sin, w, scratch);
        g = product(p, g, name, "go", a.dOut(), h, n, true, false, 1, dy, o2, gw[3]);
        g = product(p, g, name, "do", n, h, a.dOut(), false, false, 1, dy, w[3], do2);
        g = heads(p, g, name, "sd", a, do2, cos, sin, dO, 0, true);
        g = AttentionPlan.gradients(g, p.id + name, p.grids, new float[][] {qkv[0], qkv[1], qkv[2], dO}, pr, dp, ds,
                dqkv, z, l, l, a.dim(), a.dim(), a.scale());
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            g = heads(p, g, name, "u" + names[i], a, dqkv[i], cos, sin, drows[i], i < 2 ? 1 : 0, false);
            g = product(p, g, name, "x" + names[i], n, d, h, false, false, 1, drows[i], w[i], dxs[i]);
            g = product(p, g, name, "g" + names[i], h, d, n, true, false, 1, drows[i], x, gw[i]);
        }
        grid(p, name, "a1", n * d);
        grid(p, name, "a2", n * d);
        return g.task("a1", TornadoKernels::addKernel, new KernelContext(), dxs[0], dxs[1], dx01, n * d)
                .task("a2", TornadoKernels::addKernel, new KernelContext(), dx01, dxs[2], dx, n * d)
                .transferToHost(DataTransferMode.UNDER_DEMAND, forwardScratch(a, scratch))
                .transferToHost(DataTransferMode.UNDER_DEMAND, do2, dO, dp, ds, dqkv[0], dqkv[1], dqkv[2], drows[0],
                        drows[1], drows[2], dxs[0], dxs[1], dxs[2], dx01);
    }

    /** The device-only arrays of {@link #attended}. */
    private static Object[] forwardScratch(Attention a, BiFunction<Integer, Integer, float[]> scratch) {
        int n = a.n();
        int h = a.h();
        int ll = a.b() * a.heads() * a.l() * a.l();
        return new Object[] {scratch.apply(60, n * h), scratch.apply(61, n * h), scratch.apply(62, n * h),
            scratch.apply(63, n * h), scratch.apply(64, n * h), scratch.apply(65, n * h), scratch.apply(66, n * h),
            scratch.apply(67, ll), scratch.apply(68, ll), scratch.apply(69, n * h), scratch.apply(70, n * h)};
    }

    /**
     * The forward pass up to the joined heads o2 [B·L, H·D] (scratch slot 70): the three projections (tasks pq, pk,
     * pv), the rotation and regrouping (rq, rk, rv), the probabilities (q, s, p), o = p v (o) and the join (j).
     */
    private static TaskGraph attended(ParamPlan p, TaskGraph g, String name, Attention a, float[] x, float[] cos,
                                      float[] sin, float[][] w, BiFunction<Integer, Integer, float[]> scratch) {
        int n = a.n();
        int h = a.h();
        int ll = a.b() * a.heads() * a.l() * a.l();
        float[][] rows = {scratch.apply(60, n * h), scratch.apply(61, n * h), scratch.apply(62, n * h)};
        float[][] qkv = {scratch.apply(63, n * h), scratch.apply(64, n * h), scratch.apply(65, n * h)};
        float[] qs = scratch.apply(66, n * h);
        float[] s = scratch.apply(67, ll);
        float[] pr = scratch.apply(68, ll);
        float[] o = scratch.apply(69, n * h);
        float[] o2 = scratch.apply(70, n * h);
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            g = product(p, g, name, "p" + names[i], n, h, a.d(), false, true, 1, x, w[i], rows[i]);
            g = heads(p, g, name, "r" + names[i], a, rows[i], cos, sin, qkv[i], i < 2 ? 1 : 0, true);
        }
        int z = a.b() * a.heads();
        g = AttentionPlan.probabilities(g, p.id + name, p.grids, new float[][] {qkv[0], qkv[1]}, qs, s, pr, z, a.l(),
                a.l(), a.dim(), true, a.scale());
        g = product(p, g, name, "o", a.l(), a.dim(), a.l(), false, false, z, pr, qkv[2], o);
        return heads(p, g, name, "j", a, o, cos, sin, o2, 0, false);
    }

    /** Adds task {@code task}: rows to heads ({@code split}) or back, RoPE'd or not. */
    private static TaskGraph heads(ParamPlan p, TaskGraph g, String name, String task, Attention a, float[] in,
                                   float[] cos, float[] sin, float[] out, int rotate, boolean split) {
        grid(p, name, task, a.b() * a.l() * a.heads() * a.dim());
        return split
                ? g.task(task, TornadoKernels::ropeHeadsKernel, new KernelContext(), in, cos, sin, out, a.b(), a.l(),
                        a.heads(), a.dim(), rotate)
                : g.task(task, TornadoKernels::unropeHeadsKernel, new KernelContext(), in, cos, sin, out, a.b(),
                        a.l(), a.heads(), a.dim(), rotate);
    }

    /** y = (silu(x W1ᵀ) ⊙ (x W3ᵀ)) W2ᵀ for n rows: w = {W1, W3, W2} with W1, W3 [f, d] and W2 [dOut, f]. */
    static TaskGraph swiGlu(ParamPlan p, TaskGraph g, String name, float[] x, float[][] w, float[] y, int n, int f,
                            int d, int dOut, BiFunction<Integer, Integer, float[]> scratch) {
        float[] z = scratch.apply(2, n * f);
        g = gated(p, g, name, x, w, n, f, d, scratch);
        return product(p, g, name, "y", n, dOut, f, false, true, 1, z, w[2], y)
                .transferToHost(DataTransferMode.UNDER_DEMAND, scratch.apply(0, n * f), scratch.apply(1, n * f), z);
    }

    /**
     * The SwiGLU block's backward pass (recomputing a = x W1ᵀ, b = x W3ᵀ): dx from dy, and dW1, dW3, dW2 into
     * gw = {dW1, dW3, dW2}.
     */
    static TaskGraph swiGluBackward(ParamPlan p, TaskGraph g, String name, float[] x, float[] dy, float[][] w,
                                    float[][] gw, float[] dx, int n, int f, int d, int dOut,
                                    BiFunction<Integer, Integer, float[]> scratch) {
        float[] a = scratch.apply(0, n * f);
        float[] b = scratch.apply(1, n * f);
        float[] z = scratch.apply(2, n * f);
        float[] dz = scratch.apply(3, n * f);
        float[] da = scratch.apply(4, n * f);
        float[] db = scratch.apply(5, n * f);
        float[] dx1 = scratch.apply(6, n * d);
        float[] dx3 = scratch.apply(7, n * d);
        g = gated(p, g, name, x, w, n, f, d, scratch);
        g = product(p, g, name, "dz", n, f, dOut, false, false, 1, dy, w[2], dz)
                .task("g", TornadoKernels::swiGluBackwardKernel, new KernelContext(), a, b, dz, da, db, n * f);
        grid(p, name, "g", n * f);
        g = product(p, g, name, "x1", n, d, f, false, false, 1, da, w[0], dx1);
        g = product(p, g, name, "x3", n, d, f, false, false, 1, db, w[1], dx3)
                .task("x", TornadoKernels::addKernel, new KernelContext(), dx1, dx3, dx, n * d);
        grid(p, name, "x", n * d);
        g = product(p, g, name, "w1", f, d, n, true, false, 1, da, x, gw[0]);
        g = product(p, g, name, "w3", f, d, n, true, false, 1, db, x, gw[1]);
        return product(p, g, name, "w2", dOut, f, n, true, false, 1, dy, z, gw[2])
                .transferToHost(DataTransferMode.UNDER_DEMAND, a, b, z, dz, da, db, dx1, dx3);
    }

    /** Adds a = x W1ᵀ, b = x W3ᵀ and z = silu(a) ⊙ b (scratch slots 0, 1, 2). */
    private static TaskGraph gated(ParamPlan p, TaskGraph g, String name, float[] x, float[][] w, int n, int f, int d,
                                   BiFunction<Integer, Integer, float[]> scratch) {
        float[] a = scratch.apply(0, n * f);
        float[] b = scratch.apply(1, n * f);
        float[] z = scratch.apply(2, n * f);
        g = product(p, g, name, "a", n, f, d, false, true, 1, x, w[0], a);
        g = product(p, g, name, "b", n, f, d, false, true, 1, x, w[1], b);
        grid(p, name, "z", n * f);
        return g.task("z", TornadoKernels::swiGluKernel, new KernelContext(), a, b, z, n * f);
    }

    /** The sizes of a Lory feed-forward block: S segments of T rows, E experts of d -> f -> dOut. */
    record Merged(int s, int t, int e, int f, int d, int dOut) {
        int n() {
            return s * t;
        }
    }

    /**
     * The Lory feed-forward block y [S, T, d'] of h [S, T, d] and routing weights w [S, E] (spec §2.2, §2.4): merges
     * Ḡ, Ū, D̄ = w · Wflat for experts = {gate, up, down}, then per segment y = (silu(h Ḡᵀ) ⊙ (h Ūᵀ)) D̄ᵀ.
     */
    static TaskGraph merged(ParamPlan p, TaskGraph g, String name, Merged m, float[] h, float[] w, float[][] experts,
                            float[] y, BiFunction<Integer, Integer, float[]> scratch) {
        g = mergedGated(p, g, name, m, h, w, experts, scratch);
        return product(p, g, name, "y", m.t(), m.dOut(), m.f(), false, true, m.s(), scratch.apply(35, m.n() * m.f()),
                        scratch.apply(32, m.s() * m.dOut() * m.f()), y)
                .transferToHost(DataTransferMode.UNDER_DEMAND, mergedScratch(m, scratch));
    }

    /**
     * The Lory feed-forward block's backward pass (spec §3.2–3.3; it merges and recomputes the forward pass again):
     * dh and dw out, the experts' gradients wᵀ · dM̄ into ge = {dGate, dUp, dDown}; dw = Σ over the three of
     * dM̄ · Wflatᵀ as partial products over the rows of each matrix, summed in a fixed order.
     */
    static TaskGraph mergedBackward(ParamPlan p, TaskGraph g, String name, Merged m, float[] h, float[] w,
                                    float[] dy, float[][] experts, float[][] ge, float[] dh, float[] dw,
                                    BiFunction<Integer, Integer, float[]> scratch) {
        int s = m.s();
        int t = m.t();
        int e = m.e();
        int f = m.f();
        int d = m.d();
        int dOut = m.dOut();
        int n = m.n();
        int fd = f * d;
        int df = dOut * f;
        float[] mg = scratch.apply(30, s * fd);
        float[] mu = scratch.apply(31, s * fd);
        float[] md = scratch.apply(32, s * df);
        float[] a = scratch.apply(33, n * f);
        float[] b = scratch.apply(34, n * f);
        float[] z = scratch.apply(35, n * f);
        float[] dz = scratch.apply(36, n * f);
        float[] da = scratch.apply(37, n * f);
        float[] db = scratch.apply(38, n * f);
        float[] dhg = scratch.apply(39, n * d);
        float[] dhu = scratch.apply(40, n * d);
        float[] dmg = scratch.apply(41, s * fd);
        float[] dmu = scratch.apply(42, s * fd);
        float[] dmd = scratch.apply(43, s * df);
        float[] pg = scratch.apply(44, f * s * e);
        float[] pu = scratch.apply(45, f * s * e);
        float[] pd = scratch.apply(46, dOut * s * e);
        float[] dwg = scratch.apply(47, s * e);
        float[] dwu = scratch.apply(48, s * e);
        float[] dwd = scratch.apply(49, s * e);
        float[] dwgu = scratch.apply(50, s * e);
        g = mergedGated(p, g, name, m, h, w, experts, scratch);
        g = product(p, g, name, "dz", t, f, dOut, false, false, s, dy, md, dz);
        g = product(p, g, name, "dd", dOut, f, t, true, false, s, dy, z, dmd)
                .task("g", TornadoKernels::swiGluBackwardKernel, new KernelContext(), a, b, dz, da, db, n * f);
        grid(p, name, "g", n * f);
        g = product(p, g, name, "hg", t, d, f, false, false, s, da, mg, dhg);
        g = product(p, g, name, "hu", t, d, f, false, false, s, db, mu, dhu)
                .task("h", TornadoKernels::addKernel, new KernelContext(), dhg, dhu, dh, n * d);
        grid(p, name, "h", n * d);
        g = product(p, g, name, "dg", f, d, t, true, false, s, da, h, dmg);
        g = product(p, g, name, "du", f, d, t, true, false, s, db, h, dmu);
        // the experts' gradients wᵀ · dM̄ ([E, S] · [S, ·])
        g = product(p, g, name, "eg", e, fd, s, true, false, 1, w, dmg, ge[0]);
        g = product(p, g, name, "eu", e, fd, s, true, false, 1, w, dmu, ge[1]);
        g = product(p, g, name, "ed", e, df, s, true, false, 1, w, dmd, ge[2]);
        g = routingGrad(p, g, name, "wg", dmg, experts[0], pg, dwg, s, e, f, d);
        g = routingGrad(p, g, name, "wu", dmu, experts[1], pu, dwu, s, e, f, d);
        g = routingGrad(p, g, name, "wd", dmd, experts[2], pd, dwd, s, e, dOut, f);
        grid(p, name, "w1", s * e);
        grid(p, name, "w2", s * e);
        return g.task("w1", TornadoKernels::addKernel, new KernelContext(), dwg, dwu, dwgu, s * e)
                .task("w2", TornadoKernels::addKernel, new KernelContext(), dwgu, dwd, dw, s * e)
                .transferToHost(DataTransferMode.UNDER_DEMAND, mergedScratch(m, scratch))
                .transferToHost(DataTransferMode.UNDER_DEMAND, dz, da, db, dhg, dhu, dmg, dmu, dmd, pg, pu, pd, dwg,
                        dwu, dwd, dwgu);
    }

    /** The device-only arrays of {@link #mergedGated}. */
    private static Object[] mergedScratch(Merged m, BiFunction<Integer, Integer, float[]> scratch) {
        int fd = m.f() * m.d();
        int df = m.dOut() * m.f();
        int nf = m.n() * m.f();
        return new Object[] {scratch.apply(30, m.s() * fd), scratch.apply(31, m.s() * fd),
            scratch.apply(32, m.s() * df), scratch.apply(33, nf), scratch.apply(34, nf), scratch.apply(35, nf)};
    }

    /** Adds the three merges and a = h Ḡᵀ, b = h Ūᵀ, z = silu(a) ⊙ b per segment (scratch slots 30-35). */
    private static TaskGraph mergedGated(ParamPlan p, TaskGraph g, String name, Merged m, float[] h, float[] w,
                                         float[][] experts, BiFunction<Integer, Integer, float[]> scratch) {
        int s = m.s();
        int fd = m.f() * m.d();
        float[] mg = scratch.apply(30, s * fd);
        float[] mu = scratch.apply(31, s * fd);
        float[] md = scratch.apply(32, s * m.dOut() * m.f());
        float[] a = scratch.apply(33, m.n() * m.f());
        float[] b = scratch.apply(34, m.n() * m.f());
        float[] z = scratch.apply(35, m.n() * m.f());
        g = product(p, g, name, "mg", s, fd, m.e(), false, false, 1, w, experts[0], mg);
        g = product(p, g, name, "mu", s, fd, m.e(), false, false, 1, w, experts[1], mu);
        g = product(p, g, name, "md", s, m.dOut() * m.f(), m.e(), false, false, 1, w, experts[2], md);
        g = product(p, g, name, "a", m.t(), m.f(), m.d(), false, true, s, h, mg, a);
        g = product(p, g, name, "b", m.t(), m.f(), m.d(), false, true, s, h, mu, b);
        grid(p, name, "z", m.n() * m.f());
        return g.task("z", TornadoKernels::swiGluKernel, new KernelContext(), a, b, z, m.n() * m.f());
    }

    /**
     * Adds dw_part = dM̄ · Wflatᵀ for one expert tensor [E, rows, cols]: one [S, cols] · [cols, E] product per row
     * (all in parallel), then the sum over the rows in a fixed order.
     */
    private static TaskGraph routingGrad(ParamPlan p, TaskGraph g, String name, String task, float[] dm,
                                         float[] experts, float[] partial, float[] out, int s, int e, int rows,
                                         int cols) {
        int ab = rows * cols;
        p.grids.addWorkerGrid(p.id + name + "." + task,
                TornadoBackend.workers(TornadoBackend.matmulGrid(rows, s, e)));
        grid(p, name, task + "r", s * e);
        return g.task(task, TornadoKernels::matmulKernel, new KernelContext(), dm, experts, partial, s, e, cols, cols,
                        cols, s * e, ab, 1, 1, ab)
                .task(task + "r", TornadoKernels::sumChunksKernel, new KernelContext(), partial, out, rows, s * e);
    }

    /** The row losses of the head W [v, d] for m rows x and targets t: z = x Wᵀ, logsumexp(z_i) − z_i[t_i]. */
    static TaskGraph headLoss(ParamPlan p, TaskGraph g, String name, float[] x, int[] t, float[] w, float[] loss,
                              int m, int v, int d, int ignore, BiFunction<Integer, Integer, float[]> scratch) {
        float[] z = scratch.apply(90, m * v);
        grid(p, name, "l", m);
        return product(p, g, name, "z", m, v, d, false, true, 1, x, w, z)
                .task("l", TornadoKernels::crossEntropyRowsKernel, new KernelContext(), z, t, loss, m, v, ignore)
                .transferToHost(DataTransferMode.UNDER_DEMAND, z);
    }

    /**
     * The head's backward pass given scale[0] = upstream gradient / rows counted: z again, dz = (softmax(z) −
     * onehot(t)) · scale, dx = dz W and dW = dzᵀ x into gw.
     */
    static TaskGraph headGrads(ParamPlan p, TaskGraph g, String name, float[] x, int[] t, float[] scale, float[] w,
                               float[] gw, float[] dx, int m, int v, int d, int ignore,
                               BiFunction<Integer, Integer, float[]> scratch) {
        float[] z = scratch.apply(90, m * v);
        float[] dz = scratch.apply(91, m * v);
        grid(p, name, "g", m);
        g = product(p, g, name, "z", m, v, d, false, true, 1, x, w, z)
                .task("g", TornadoKernels::crossEntropyGradRowsKernel, new KernelContext(), z, t, scale, dz, m, v,
                        ignore);
        g = product(p, g, name, "x", m, d, v, false, false, 1, dz, w, dx);
        return product(p, g, name, "w", v, d, m, true, false, 1, dz, x, gw)
                .transferToHost(DataTransferMode.UNDER_DEMAND, z, dz);
    }
}
