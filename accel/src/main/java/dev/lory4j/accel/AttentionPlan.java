package dev.lory4j.accel;

import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * Scaled dot-product attention for z products of q [Lq, D], k [Lk, D], v [Lk, Dv] (causal or not) as one
 * execution plan of two graphs: the forward pass (q, k, v in; the output out) and the backward pass (q, k, v and
 * dOut in; dq, dk, dv out), which recomputes the probabilities. The [z, Lq, Lk] scores, probabilities and their
 * gradients live only on the device.
 */
final class AttentionPlan {
    final float[][] in1;
    final float[] out1;
    final float[][] in2;
    final float[] dq;
    final float[] dk;
    final float[] dv;
    final TornadoExecutionPlan plan;

    /** Builds the plan; {@code scratch.apply(slot, size)} gives device-only intermediates (never copied). */
    AttentionPlan(String id, int z, int lq, int lk, int d, int dv, boolean causal, float scale,
                  BiFunction<Integer, Integer, float[]> scratch) {
        float[] qs = scratch.apply(10, z * lq * d);
        float[] s = scratch.apply(11, z * lq * lk);
        float[] p = scratch.apply(12, z * lq * lk);
        float[] dp = scratch.apply(13, z * lq * lk);
        float[] ds = scratch.apply(14, z * lq * lk);
        GridScheduler grids = new GridScheduler();

        in1 = new float[][] {new float[z * lq * d], new float[z * lk * d], new float[z * lk * dv]};
        out1 = new float[z * lq * dv];
        String fw = id + "f";
        TaskGraph forward = new TaskGraph(fw).transferToDevice(DataTransferMode.EVERY_EXECUTION, in1[0], in1[1], in1[2]);
        forward = probabilities(forward, fw, grids, in1, qs, s, p, z, lq, lk, d, causal, scale);
        forward = TornadoBackend.matmulTask("o", lq, dv, lk, false, false).add(forward, new float[][] {p, in1[2]}, out1)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out1)
                .transferToHost(DataTransferMode.UNDER_DEMAND, qs, s, p);
        grids.addWorkerGrid(fw + ".o", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lq, dv)));

        in2 = new float[][] {new float[z * lq * d], new float[z * lk * d], new float[z * lk * dv],
            new float[z * lq * dv]}; // q, k, v, dOut
        dq = new float[z * lq * d];
        this.dk = new float[z * lk * d];
        this.dv = new float[z * lk * dv];
        String bw = id + "b";
        TaskGraph backward = new TaskGraph(bw)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, in2[0], in2[1], in2[2], in2[3]);
        backward = probabilities(backward, bw, grids, in2, qs, s, p, z, lq, lk, d, causal, scale);
        backward = gradients(backward, bw, grids, in2, p, dp, ds, new float[][] {dq, this.dk, this.dv}, z, lq, lk, d,
                dv, scale)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dq, this.dk, this.dv)
                .transferToHost(DataTransferMode.UNDER_DEMAND, qs, s, p, dp, ds);

        plan = new TornadoExecutionPlan(forward.snapshot(), backward.snapshot());
        plan.withGridScheduler(grids);
    }

    /**
     * Adds the gradients of o = p v given in = {q, k, v, dOut} and p to graph {@code name}: dp = dOut vᵀ,
     * ds = scale · p ⊙ (dp − rowsum(dp ⊙ p)), out = {dq = ds k, dk = dsᵀ q, dv = pᵀ dOut} (tasks dp, ds, dq, dk, dv).
     */
    static TaskGraph gradients(TaskGraph g, String name, GridScheduler grids, float[][] in, float[] p, float[] dp,
                               float[] ds, float[][] out, int z, int lq, int lk, int d, int dv, float scale) {
        g = TornadoBackend.matmulTask("dp", lq, lk, dv, false, true).add(g, new float[][] {in[3], in[2]}, dp)
                .task("ds", TornadoKernels::softmaxBackwardRows, new KernelContext(), p, dp, ds, z * lq, lk, scale);
        g = TornadoBackend.matmulTask("dq", lq, d, lk, false, false).add(g, new float[][] {ds, in[1]}, out[0]);
        g = TornadoBackend.matmulTask("dk", lk, d, lq, true, false).add(g, new float[][] {ds, in[0]}, out[1]);
        g = TornadoBackend.matmulTask("dv", lk, dv, lq, true, false).add(g, new float[][] {p, in[3]}, out[2]);
        grids.addWorkerGrid(name + ".dp", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lq, lk)));
        grids.addWorkerGrid(name + ".ds", TornadoBackend.workers(new int[] {z * lq}));
        grids.addWorkerGrid(name + ".dq", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lq, d)));
        grids.addWorkerGrid(name + ".dk", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lk, d)));
        grids.addWorkerGrid(name + ".dv", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lk, dv)));
        return g;
    }

    /** Adds qs = scale · q, s = qs kᵀ and p = softmax(s) (causal or not) to graph {@code name} (tasks q, s, p). */
    static TaskGraph probabilities(TaskGraph g, String name, GridScheduler grids, float[][] in, float[] qs,
                                           float[] s, float[] p, int z, int lq, int lk, int d, boolean causal,
                                           float scale) {
        int rows = z * lq;
        g = g.task("q", TornadoKernels::scaleKernel, new KernelContext(), in[0], qs, z * lq * d, scale);
        g = TornadoBackend.matmulTask("s", lq, lk, d, false, true).add(g, new float[][] {qs, in[1]}, s);
        g = causal
                ? g.task("p", TornadoKernels::causalSoftmaxRows, new KernelContext(), s, p, rows, lq, lk)
                : g.task("p", TornadoKernels::causalSoftmaxRows, new KernelContext(), s, p, rows, 1, lk);
        grids.addWorkerGrid(name + ".q", TornadoBackend.workers(new int[] {z * lq * d}));
        grids.addWorkerGrid(name + ".s", TornadoBackend.workers(TornadoBackend.matmulGrid(z, lq, lk)));
        grids.addWorkerGrid(name + ".p", TornadoBackend.workers(new int[] {rows}));
        return g;
    }
}
