package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The Lory merged products of one expert tensor [E, a, b] (a model parameter, kept on the device) for S segments
 * of T rows, as one execution plan of four graphs that share the experts' device buffer:
 * <ol start="0">
 * <li>copies the experts to the device (run only when the host changed them);</li>
 * <li>y = x_s · M̄_sᵀ: merges M̄ = w · Wflat ([S, E] · [E, a·b], spec §3.2) and multiplies each segment;</li>
 * <li>y = x_s · M̄_s (the input gradient of 1);</li>
 * <li>the merge gradients of 1: dM̄_s = dy_sᵀ · x_s, dExperts = wᵀ · dM̄ and dw = dM̄ · Wflatᵀ (as a partial
 * products, one per row of the a rows, summed).</li>
 * </ol>
 * The merged matrices and dM̄ ([S, a, b] each) live only on the device: only x, w, y, dy and the two gradients
 * are copied.
 */
final class MergedPlan {
    final int s;
    final int t;
    final int e;
    final int a;
    final int b;
    final float[][] in1;
    final float[] y1;
    final float[][] in2;
    final float[] y2;
    final float[][] in3;
    final float[] dw3;
    final float[] de3;
    final TornadoExecutionPlan plan;
    int[] versions; // host version of the experts on the device; null before the first copy

    MergedPlan(String id, float[] experts, int s, int t, int e, int a, int b, float[] scratch) {
        this.s = s;
        this.t = t;
        this.e = e;
        this.a = a;
        this.b = b;
        int ab = a * b;
        TaskGraph upload = new TaskGraph(id + "u")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, experts)
                .task("t", TornadoKernels::keepKernel, new KernelContext(), experts)
                .persistOnDevice(experts);
        GridScheduler grids = new GridScheduler(id + "u.t", TornadoBackend.workers(new int[] {1}));

        in1 = new float[][] {new float[s * e], new float[s * t * b]}; // w, x
        y1 = new float[s * t * a];
        TaskGraph g1 = product(id + "f", upload, experts, scratch, in1, y1, true, grids);
        in2 = new float[][] {new float[s * e], new float[s * t * a]};
        y2 = new float[s * t * b];
        TaskGraph g2 = product(id + "b", upload, experts, scratch, in2, y2, false, grids);

        in3 = new float[][] {new float[s * e], new float[s * t * b], new float[s * t * a]}; // w, x, dy
        dw3 = new float[s * e];
        de3 = new float[e * ab];
        TaskGraph g3 = new TaskGraph(id + "g")
                .consumeFromDevice(upload.getTaskGraphName(), experts)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, in3[0], in3[1], in3[2]);
        g3 = TornadoBackend.matmulTask("d", a, b, t, true, false).add(g3, new float[][] {in3[2], in3[1]}, scratch);
        g3 = TornadoBackend.matmulTask("e", e, ab, s, true, false).add(g3, new float[][] {in3[0], scratch}, de3);
        // dw = dM̄ · Wflatᵀ reduces over a·b: split by the a rows of each matrix (one [S, b] · [b, E] product per
        // row, all in parallel), then summed over the a partial products in a fixed order
        float[] partial = new float[a * s * e];
        g3 = g3.task("w", TornadoKernels::matmulKernel, new KernelContext(), scratch, experts, partial, s, e, b, b, b,
                        s * e, ab, 1, 1, ab)
                .task("r", TornadoKernels::sumChunksKernel, new KernelContext(), partial, dw3, a, s * e)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dw3, de3)
                .transferToHost(DataTransferMode.UNDER_DEMAND, partial)
                .transferToHost(DataTransferMode.UNDER_DEMAND, scratch); // declared, never copied: device-only
        grids.addWorkerGrid(id + "g.d", TornadoBackend.workers(TornadoBackend.matmulGrid(s, a, b)));
        grids.addWorkerGrid(id + "g.e", TornadoBackend.workers(TornadoBackend.matmulGrid(1, e, ab)));
        grids.addWorkerGrid(id + "g.w", TornadoBackend.workers(TornadoBackend.matmulGrid(a, s, e)));
        grids.addWorkerGrid(id + "g.r", TornadoBackend.workers(new int[] {s * e}));

        plan = new TornadoExecutionPlan(upload.snapshot(), g1.snapshot(), g2.snapshot(), g3.snapshot());
        plan.withGridScheduler(grids);
    }

    /** A graph that merges into {@code scratch} and multiplies each segment of in[1] by it (transposed or not). */
    private TaskGraph product(String name, TaskGraph upload, float[] experts, float[] scratch, float[][] in,
                              float[] out, boolean transposed, GridScheduler grids) {
        int ab = a * b;
        int inner = transposed ? b : a;
        int outer = transposed ? a : b;
        TaskGraph g = new TaskGraph(name)
                .consumeFromDevice(upload.getTaskGraphName(), experts)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, in[0], in[1]);
        g = TornadoBackend.matmulTask("m", s, ab, e, false, false).add(g, new float[][] {in[0], experts}, scratch);
        g = TornadoBackend.matmulTask("p", t, outer, inner, false, transposed).add(g, new float[][] {in[1], scratch}, out)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out)
                .transferToHost(DataTransferMode.UNDER_DEMAND, scratch); // declared, never copied: device-only
        grids.addWorkerGrid(name + ".m", TornadoBackend.workers(TornadoBackend.matmulGrid(1, s, ab)));
        grids.addWorkerGrid(name + ".p", TornadoBackend.workers(TornadoBackend.matmulGrid(s, t, outer)));
        return g;
    }
}
