package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The feed-forward block of a Lory layer for S segments of T rows (spec §2.2, §2.4, §3.2–3.3): a {@link ParamPlan}
 * over its three expert tensors (gate and up [E, f, d], down [E, d', f], with their gradients and AdamW moments on
 * the device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: h [S, T, d] and w [S, E] in, y [S, T, d'] out. Merges Ḡ, Ū, D̄ = w · Wflat (one [S, E] ·
 * [E, ·] product each), then per segment a = h Ḡᵀ, b = h Ūᵀ, z = silu(a) ⊙ b, y = z D̄ᵀ;</li>
 * <li>{@link #BACKWARD}: h, w and dy in; dh and dw out; the experts' gradients wᵀ · dM̄ stay on the device. It merges
 * and recomputes a, b, z again (spec §2.9's "recompute" choice: the merged matrices are never kept between graphs),
 * then dz = dy D̄, dD̄ = dyᵀ z, da and db (the gate's backward), dh = da Ḡ + db Ū, dḠ = daᵀ h, dŪ = dbᵀ h, and
 * dw = Σ over the three of dM̄ · Wflatᵀ (as partial products over the rows of each matrix, summed in a fixed
 * order).</li>
 * </ul>
 * The merged matrices, their gradients and the [S, T, f] intermediates live only on the device.
 */
final class MergedSwiGluPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] h1;
    final float[] w1;
    final float[] y1;
    final float[] h2;
    final float[] w2;
    final float[] dy2;
    final float[] dh2;
    final float[] dw2;

    /**
     * Builds the plan for the expert tensors (their storages) gate, up [E, f, d] and down [E, dOut, f] and S segments
     * of T rows; {@code scratch.apply(slot, size)} gives device-only intermediates (never copied, shared by plans).
     */
    MergedSwiGluPlan(String id, Storage gate, Storage up, Storage down, int s, int t, int e, int f, int d, int dOut,
                     BiFunction<Integer, Integer, float[]> scratch) {
        super(id, gate, up, down);
        int fd = f * d;
        int df = dOut * f;
        int n = s * t;
        float[] mg = scratch.apply(30, s * fd);
        float[] mu = scratch.apply(31, s * fd);
        float[] md = scratch.apply(32, s * df);
        float[] a = scratch.apply(33, n * f);
        float[] b = scratch.apply(34, n * f);
        float[] z = scratch.apply(35, n * f);

        h1 = new float[n * d];
        w1 = new float[s * e];
        y1 = new float[n * dOut];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, h1, w1);
        forward = gated(forward, "f", h1, w1, mg, mu, md, a, b, z, s, t, e, f, d, dOut);
        forward = product(forward, "f.y", t, dOut, f, false, true, s, z, md, y1)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1)
                .transferToHost(DataTransferMode.UNDER_DEMAND, mg, mu, md, a, b, z); // device-only

        h2 = new float[n * d];
        w2 = new float[s * e];
        dy2 = new float[n * dOut];
        dh2 = new float[n * d];
        dw2 = new float[s * e];
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
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, h2, w2, dy2);
        backward = gated(backward, "b", h2, w2, mg, mu, md, a, b, z, s, t, e, f, d, dOut);
        backward = product(backward, "b.dz", t, f, dOut, false, false, s, dy2, md, dz);
        backward = product(backward, "b.dd", dOut, f, t, true, false, s, dy2, z, dmd)
                .task("g", TornadoKernels::swiGluBackwardKernel, new KernelContext(), a, b, dz, da, db, n * f);
        grids.addWorkerGrid(id + "b.g", TornadoBackend.workers(new int[] {n * f}));
        backward = product(backward, "b.hg", t, d, f, false, false, s, da, mg, dhg);
        backward = product(backward, "b.hu", t, d, f, false, false, s, db, mu, dhu)
                .task("h", TornadoKernels::addKernel, new KernelContext(), dhg, dhu, dh2, n * d);
        grids.addWorkerGrid(id + "b.h", TornadoBackend.workers(new int[] {n * d}));
        backward = product(backward, "b.dg", f, d, t, true, false, s, da, h2, dmg);
        backward = product(backward, "b.du", f, d, t, true, false, s, db, h2, dmu);
        // the experts' gradients wᵀ · dM̄ ([E, S] · [S, ·]) into the persistent G buffers
        backward = product(backward, "b.eg", e, fd, s, true, false, 1, w2, dmg, params[0].g);
        backward = product(backward, "b.eu", e, fd, s, true, false, 1, w2, dmu, params[1].g);
        backward = product(backward, "b.ed", e, df, s, true, false, 1, w2, dmd, params[2].g);
        // dw = Σ dM̄ · Wflatᵀ, reduced over a·b in row chunks (see MergedPlan), then the three summed
        backward = routingGrad(backward, "b.wg", dmg, params[0].w, pg, dwg, s, e, f, d);
        backward = routingGrad(backward, "b.wu", dmu, params[1].w, pu, dwu, s, e, f, d);
        backward = routingGrad(backward, "b.wd", dmd, params[2].w, pd, dwd, s, e, dOut, f)
                .task("w1", TornadoKernels::addKernel, new KernelContext(), dwg, dwu, dwgu, s * e)
                .task("w2", TornadoKernels::addKernel, new KernelContext(), dwgu, dwd, dw2, s * e)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dh2, dw2)
                .transferToHost(DataTransferMode.UNDER_DEMAND, mg, mu, md, a, b, z, dz, da, db, dhg, dhu, dmg, dmu,
                        dmd, pg, pu, pd, dwg, dwu, dwd, dwgu); // device-only
        grids.addWorkerGrid(id + "b.w1", TornadoBackend.workers(new int[] {s * e}));
        grids.addWorkerGrid(id + "b.w2", TornadoBackend.workers(new int[] {s * e}));

        build(forward, backward);
    }

    /** Adds the three merges and a = h Ḡᵀ, b = h Ūᵀ, z = silu(a) ⊙ b (per segment) to a graph. */
    private TaskGraph gated(TaskGraph g, String name, float[] h, float[] w, float[] mg, float[] mu, float[] md,
                            float[] a, float[] b, float[] z, int s, int t, int e, int f, int d, int dOut) {
        g = product(g, name + ".mg", s, f * d, e, false, false, 1, w, params[0].w, mg);
        g = product(g, name + ".mu", s, f * d, e, false, false, 1, w, params[1].w, mu);
        g = product(g, name + ".md", s, dOut * f, e, false, false, 1, w, params[2].w, md);
        g = product(g, name + ".a", t, f, d, false, true, s, h, mg, a);
        g = product(g, name + ".b", t, f, d, false, true, s, h, mu, b)
                .task("z", TornadoKernels::swiGluKernel, new KernelContext(), a, b, z, s * t * f);
        grids.addWorkerGrid(id + name + ".z", TornadoBackend.workers(new int[] {s * t * f}));
        return g;
    }

    /** Adds a batched product task {@code task} (batch products of (m, n, k), operands possibly transposed). */
    private TaskGraph product(TaskGraph g, String task, int m, int n, int k, boolean ta, boolean tb, int batch,
                              float[] left, float[] right, float[] out) {
        String name = task.substring(task.indexOf('.') + 1);
        grids.addWorkerGrid(id + task, TornadoBackend.workers(TornadoBackend.matmulGrid(batch, m, n)));
        return TornadoBackend.matmulTask(name, m, n, k, ta, tb).add(g, new float[][] {left, right}, out);
    }

    /**
     * Adds dw_part = dM̄ · Wflatᵀ for one expert tensor [E, rows, cols]: one [S, cols] · [cols, E] product per row
     * (all in parallel), then the sum over the rows in a fixed order.
     */
    private TaskGraph routingGrad(TaskGraph g, String task, float[] dm, float[] experts, float[] partial, float[] out,
                                  int s, int e, int rows, int cols) {
        String name = task.substring(task.indexOf('.') + 1);
        int ab = rows * cols;
        grids.addWorkerGrid(id + task, TornadoBackend.workers(TornadoBackend.matmulGrid(rows, s, e)));
        grids.addWorkerGrid(id + task + "r", TornadoBackend.workers(new int[] {s * e}));
        return g.task(name, TornadoKernels::matmulKernel, new KernelContext(), dm, experts, partial, s, e, cols, cols,
                        cols, s * e, ab, 1, 1, ab)
                .task(name + "r", TornadoKernels::sumChunksKernel, new KernelContext(), partial, out, rows, s * e);
    }
}
