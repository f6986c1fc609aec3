package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The causal self-attention block of a decoder layer (LLaMA, no cache) for B rows of L tokens: a {@link ParamPlan}
 * over its four projection weights Wq, Wk, Wv [H·D, d] and Wo [d', H·D] (with their gradients and AdamW moments on the
 * device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: x [B·L, d] and the RoPE tables [L, D] in, y [B·L, d'] out: q = rope(x Wqᵀ), k = rope(x Wkᵀ)
 * and v = x Wvᵀ regrouped as heads [B, H, L, D], the causal attention o = softmax(q kᵀ/√D) v, the heads joined again
 * and y = o Woᵀ;</li>
 * <li>{@link #BACKWARD}: x, dy and the tables in, dx out; it recomputes the forward pass, then dWo = dyᵀ o,
 * do = dy Wo, the attention gradients, the rotation undone on dq and dk, dx = dq Wq + dk Wk + dv Wv and dW = dᵀ x for
 * the three projections. The four weight gradients stay on the device.</li>
 * </ul>
 * The projections, the [B, H, L, L] scores and probabilities and every gradient between live only on the device.
 */
final class AttentionBlockPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] x1;
    final float[] cos1;
    final float[] sin1;
    final float[] y1;
    final float[] x2;
    final float[] dy2;
    final float[] cos2;
    final float[] sin2;
    final float[] dx2;

    private final int b;
    private final int l;
    private final int heads;
    private final int dim;
    private final float scale;

    /**
     * Builds the plan for the weights (their storages) and B rows of L tokens, d inputs, H heads of size D and d'
     * outputs; {@code scratch.apply(slot, size)} gives device-only intermediates (never copied, shared by plans).
     */
    AttentionBlockPlan(String id, Storage wq, Storage wk, Storage wv, Storage wo, int b, int l, int d, int heads,
                       int dim, int dOut, BiFunction<Integer, Integer, float[]> scratch) {
        super(id, wq, wk, wv, wo);
        this.b = b;
        this.l = l;
        this.heads = heads;
        this.dim = dim;
        this.scale = (float) (1 / Math.sqrt(dim));
        int n = b * l;
        int h = heads * dim;
        int z = b * heads;
        float[][] rows = {scratch.apply(60, n * h), scratch.apply(61, n * h), scratch.apply(62, n * h)};
        float[][] qkv = {scratch.apply(63, n * h), scratch.apply(64, n * h), scratch.apply(65, n * h)};
        float[] qs = scratch.apply(66, n * h);
        float[] s = scratch.apply(67, z * l * l);
        float[] p = scratch.apply(68, z * l * l);
        float[] o = scratch.apply(69, n * h);
        float[] o2 = scratch.apply(70, n * h);

        x1 = new float[n * d];
        cos1 = new float[l * dim];
        sin1 = new float[l * dim];
        y1 = new float[n * dOut];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, x1, cos1, sin1);
        forward = attended(forward, "f", x1, cos1, sin1, rows, qkv, qs, s, p, o, o2, n, d, h);
        forward = TornadoBackend.matmulTask("y", n, dOut, h, false, true).add(forward, new float[][] {o2, params[3].w},
                        y1)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1)
                .transferToHost(DataTransferMode.UNDER_DEMAND, rows[0], rows[1], rows[2], qkv[0], qkv[1], qkv[2], qs,
                        s, p, o, o2); // device-only
        grids.addWorkerGrid(id + "f.y", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, dOut)));

        x2 = new float[n * d];
        dy2 = new float[n * dOut];
        cos2 = new float[l * dim];
        sin2 = new float[l * dim];
        dx2 = new float[n * d];
        float[] do2 = scratch.apply(71, n * h);
        float[] dO = scratch.apply(72, n * h);
        float[] dp = scratch.apply(73, z * l * l);
        float[] ds = scratch.apply(74, z * l * l);
        float[][] dqkv = {scratch.apply(75, n * h), scratch.apply(76, n * h), scratch.apply(77, n * h)};
        float[][] drows = {scratch.apply(78, n * h), scratch.apply(79, n * h), scratch.apply(80, n * h)};
        float[][] dxs = {scratch.apply(81, n * d), scratch.apply(82, n * d), scratch.apply(83, n * d)};
        float[] dx01 = scratch.apply(84, n * d);
        String bw = id + "b";
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, dy2, cos2, sin2);
        backward = attended(backward, "b", x2, cos2, sin2, rows, qkv, qs, s, p, o, o2, n, d, h);
        backward = TornadoBackend.matmulTask("go", dOut, h, n, true, false)
                .add(backward, new float[][] {dy2, o2}, params[3].g);
        backward = TornadoBackend.matmulTask("do", n, h, dOut, false, false)
                .add(backward, new float[][] {dy2, params[3].w}, do2);
        grids.addWorkerGrid(bw + ".go", TornadoBackend.workers(TornadoBackend.matmulGrid(1, dOut, h)));
        grids.addWorkerGrid(bw + ".do", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, h)));
        backward = heads(backward, "b.sd", do2, cos2, sin2, dO, 0, true);
        backward = AttentionPlan.gradients(backward, bw, grids, new float[][] {qkv[0], qkv[1], qkv[2], dO}, p, dp, ds,
                dqkv, z, l, l, dim, dim, scale);
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            backward = heads(backward, "b.u" + names[i], dqkv[i], cos2, sin2, drows[i], i < 2 ? 1 : 0, false);
            backward = TornadoBackend.matmulTask("x" + names[i], n, d, h, false, false)
                    .add(backward, new float[][] {drows[i], params[i].w}, dxs[i]);
            backward = TornadoBackend.matmulTask("g" + names[i], h, d, n, true, false)
                    .add(backward, new float[][] {drows[i], x2}, params[i].g);
            grids.addWorkerGrid(bw + ".x" + names[i], TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, d)));
            grids.addWorkerGrid(bw + ".g" + names[i], TornadoBackend.workers(TornadoBackend.matmulGrid(1, h, d)));
        }
        backward = backward
                .task("a1", TornadoKernels::addKernel, new KernelContext(), dxs[0], dxs[1], dx01, n * d)
                .task("a2", TornadoKernels::addKernel, new KernelContext(), dx01, dxs[2], dx2, n * d)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2)
                .transferToHost(DataTransferMode.UNDER_DEMAND, rows[0], rows[1], rows[2], qkv[0], qkv[1], qkv[2], qs,
                        s, p, o, o2, do2, dO, dp, ds, dqkv[0], dqkv[1], dqkv[2], drows[0], drows[1], drows[2], dxs[0],
                        dxs[1], dxs[2], dx01); // device-only
        grids.addWorkerGrid(bw + ".a1", TornadoBackend.workers(new int[] {n * d}));
        grids.addWorkerGrid(bw + ".a2", TornadoBackend.workers(new int[] {n * d}));

        build(forward, backward);
    }

    /**
     * Adds the forward pass up to the joined heads o2 [B·L, H·D] to a graph: the three projections (tasks pq, pk, pv),
     * the rotation and regrouping (rq, rk, rv), the probabilities (q, s, p), o = p v (o) and the join (j).
     */
    private TaskGraph attended(TaskGraph g, String name, float[] x, float[] cos, float[] sin, float[][] rows,
                               float[][] qkv, float[] qs, float[] s, float[] p, float[] o, float[] o2, int n, int d,
                               int h) {
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            g = TornadoBackend.matmulTask("p" + names[i], n, h, d, false, true)
                    .add(g, new float[][] {x, params[i].w}, rows[i]);
            grids.addWorkerGrid(id + name + ".p" + names[i], TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, h)));
            g = heads(g, name + ".r" + names[i], rows[i], cos, sin, qkv[i], i < 2 ? 1 : 0, true);
        }
        int z = b * heads;
        g = AttentionPlan.probabilities(g, id + name, grids, new float[][] {qkv[0], qkv[1]}, qs, s, p, z, l, l, dim,
                true, scale);
        g = TornadoBackend.matmulTask("o", l, dim, l, false, false).add(g, new float[][] {p, qkv[2]}, o);
        grids.addWorkerGrid(id + name + ".o", TornadoBackend.workers(TornadoBackend.matmulGrid(z, l, dim)));
        return heads(g, name + ".j", o, cos, sin, o2, 0, false);
    }

    /** Adds task {@code task} (after the graph's name and a dot): rows to heads ({@code split}) or back, RoPE'd or not. */
    private TaskGraph heads(TaskGraph g, String task, float[] in, float[] cos, float[] sin, float[] out, int rotate,
                            boolean split) {
        String name = task.substring(task.indexOf('.') + 1);
        grids.addWorkerGrid(id + task, TornadoBackend.workers(new int[] {b * l * heads * dim}));
        return split
                ? g.task(name, TornadoKernels::ropeHeadsKernel, new KernelContext(), in, cos, sin, out, b, l, heads,
                        dim, rotate)
                : g.task(name, TornadoKernels::unropeHeadsKernel, new KernelContext(), in, cos, sin, out, b, l, heads,
                        dim, rotate);
    }
}
