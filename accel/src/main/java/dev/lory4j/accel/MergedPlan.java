package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The Lory merged products of one expert tensor [E, a, b] for S segments of T rows: a {@link ParamPlan} over the
 * experts (with their gradient and AdamW moments on the device) with three compute graphs:
 * <ul>
 * <li>{@link #PRODUCT_T}: y = x_s · M̄_sᵀ: merges M̄ = w · Wflat ([S, E] · [E, a·b], spec §3.2) and multiplies each
 * segment;</li>
 * <li>{@link #PRODUCT}: y = x_s · M̄_s (the input gradient of the first);</li>
 * <li>{@link #GRADS}: the merge gradients of the first: dM̄_s = dy_sᵀ · x_s, dExperts = wᵀ · dM̄ (kept on the device
 * as the experts' gradient) and dw = dM̄ · Wflatᵀ (as a partial products, one per row of the a rows, summed; out).</li>
 * </ul>
 * The merged matrices and dM̄ ([S, a, b] each) live only on the device: only x, w, y, dy and dw are copied.
 */
final class MergedPlan extends ParamPlan {
    static final int PRODUCT_T = 0;
    static final int PRODUCT = 1;
    static final int GRADS = 2;

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

    MergedPlan(String id, Storage expertStorage, int s, int t, int e, int a, int b, float[] scratch) {
        super(id, expertStorage);
        this.s = s;
        this.t = t;
        this.e = e;
        this.a = a;
        this.b = b;
        int ab = a * b;
        float[] experts = params[0].w;

        in1 = new float[][] {new float[s * e], new float[s * t * b]}; // w, x
        y1 = new float[s * t * a];
        TaskGraph g1 = product("f", experts, scratch, in1, y1, true);
        in2 = new float[][] {new float[s * e], new float[s * t * a]};
        y2 = new float[s * t * b];
        TaskGraph g2 = product("b", experts, scratch, in2, y2, false);

        in3 = new float[][] {new float[s * e], new float[s * t * b], new float[s * t * a]}; // w, x, dy
        dw3 = new float[s * e];
        TaskGraph g3 = graph("g").transferToDevice(DataTransferMode.EVERY_EXECUTION, in3[0], in3[1], in3[2]);
        g3 = TornadoBackend.matmulTask("d", a, b, t, true, false).add(g3, new float[][] {in3[2], in3[1]}, scratch);
        g3 = TornadoBackend.matmulTask("e", e, ab, s, true, false)
                .add(g3, new float[][] {in3[0], scratch}, params[0].g);
        // dw = dM̄ · Wflatᵀ reduces over a·b: split by the a rows of each matrix (one [S, b] · [b, E] product per
        // row, all in parallel), then summed over the a partial products in a fixed order
        float[] partial = new float[a * s * e];
        g3 = g3.task("w", TornadoKernels::matmulKernel, new KernelContext(), scratch, experts, partial, s, e, b, b, b,
                        s * e, ab, 1, 1, ab)
                .task("r", TornadoKernels::sumChunksKernel, new KernelContext(), partial, dw3, a, s * e)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dw3)
                .transferToHost(DataTransferMode.UNDER_DEMAND, partial)
                .transferToHost(DataTransferMode.UNDER_DEMAND, scratch); // declared, never copied: device-only
        grids.addWorkerGrid(id + "g.d", TornadoBackend.workers(TornadoBackend.matmulGrid(s, a, b)));
        grids.addWorkerGrid(id + "g.e", TornadoBackend.workers(TornadoBackend.matmulGrid(1, e, ab)));
        grids.addWorkerGrid(id + "g.w", TornadoBackend.workers(TornadoBackend.matmulGrid(a, s, e)));
        grids.addWorkerGrid(id + "g.r", TornadoBackend.workers(new int[] {s * e}));

        build(g1, g2, g3);
    }

    /** A graph that merges into {@code scratch} and multiplies each segment of in[1] by it (transposed or not). */
    private TaskGraph product(String suffix, float[] experts, float[] scratch, float[][] in, float[] out,
                              boolean transposed) {
        int ab = a * b;
        int inner = transposed ? b : a;
        int outer = transposed ? a : b;
        TaskGraph g = graph(suffix).transferToDevice(DataTransferMode.EVERY_EXECUTION, in[0], in[1]);
        g = TornadoBackend.matmulTask("m", s, ab, e, false, false).add(g, new float[][] {in[0], experts}, scratch);
        g = TornadoBackend.matmulTask("p", t, outer, inner, false, transposed).add(g, new float[][] {in[1], scratch}, out)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out)
                .transferToHost(DataTransferMode.UNDER_DEMAND, scratch); // declared, never copied: device-only
        grids.addWorkerGrid(id + suffix + ".m", TornadoBackend.workers(TornadoBackend.matmulGrid(1, s, ab)));
        grids.addWorkerGrid(id + suffix + ".p", TornadoBackend.workers(TornadoBackend.matmulGrid(s, t, outer)));
        return g;
    }
}
