package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The SwiGLU block y = (silu(x W1ᵀ) ⊙ (x W3ᵀ)) W2ᵀ of one layer for n rows: a {@link ParamPlan} over its three
 * weights (W1, W3, W2, with their gradients and AdamW moments on the device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: x in, y out;</li>
 * <li>{@link #BACKWARD} (recomputing a = x W1ᵀ, b = x W3ᵀ): x and dy in, dx out; dW1, dW3 and dW2 stay on the
 * device as the parameters' gradients.</li>
 * </ul>
 * The [n, f] intermediates (a, b, their gated product and its gradients) live only on the device.
 */
final class SwiGluPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] x1;
    final float[] y1;
    final float[] x2;
    final float[] dy2;
    final float[] dx2;

    /**
     * Builds the plan for W1, W3 [f, d] and W2 [dOut, f] (their storages) and n rows; {@code scratch.apply(slot,
     * size)} gives the device-only intermediate arrays (never copied, so plans may share them).
     */
    SwiGluPlan(String id, Storage s1, Storage s3, Storage s2, int n, int f, int d, int dOut,
               BiFunction<Integer, Integer, float[]> scratch) {
        super(id, s1, s3, s2);
        float[] w1 = params[0].w;
        float[] w3 = params[1].w;
        float[] w2 = params[2].w;
        float[] a = scratch.apply(0, n * f);
        float[] b = scratch.apply(1, n * f);
        float[] z = scratch.apply(2, n * f);
        float[] dz = scratch.apply(3, n * f);
        float[] da = scratch.apply(4, n * f);
        float[] db = scratch.apply(5, n * f);
        float[] dx1 = scratch.apply(6, n * d);
        float[] dx3 = scratch.apply(7, n * d);

        x1 = new float[n * d];
        y1 = new float[n * dOut];
        String fw = id + "f";
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, x1);
        forward = gated(forward, fw, grids, x1, w1, w3, a, b, z, n, f, d);
        forward = TornadoBackend.matmulTask("y", n, dOut, f, false, true).add(forward, new float[][] {z, w2}, y1)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1)
                .transferToHost(DataTransferMode.UNDER_DEMAND, a, b, z);
        grids.addWorkerGrid(fw + ".y", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, dOut)));

        x2 = new float[n * d];
        dy2 = new float[n * dOut];
        dx2 = new float[n * d];
        String bw = id + "b";
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, dy2);
        backward = gated(backward, bw, grids, x2, w1, w3, a, b, z, n, f, d);
        backward = TornadoBackend.matmulTask("dz", n, f, dOut, false, false).add(backward, new float[][] {dy2, w2}, dz)
                .task("g", TornadoKernels::swiGluBackwardKernel, new KernelContext(), a, b, dz, da, db, n * f);
        backward = TornadoBackend.matmulTask("x1", n, d, f, false, false).add(backward, new float[][] {da, w1}, dx1);
        backward = TornadoBackend.matmulTask("x3", n, d, f, false, false).add(backward, new float[][] {db, w3}, dx3)
                .task("x", TornadoKernels::addKernel, new KernelContext(), dx1, dx3, dx2, n * d);
        backward = TornadoBackend.matmulTask("w1", f, d, n, true, false)
                .add(backward, new float[][] {da, x2}, params[0].g);
        backward = TornadoBackend.matmulTask("w3", f, d, n, true, false)
                .add(backward, new float[][] {db, x2}, params[1].g);
        backward = TornadoBackend.matmulTask("w2", dOut, f, n, true, false)
                .add(backward, new float[][] {dy2, z}, params[2].g)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2)
                .transferToHost(DataTransferMode.UNDER_DEMAND, a, b, z, dz, da, db, dx1, dx3);
        grids.addWorkerGrid(bw + ".dz", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, f)));
        grids.addWorkerGrid(bw + ".g", TornadoBackend.workers(new int[] {n * f}));
        grids.addWorkerGrid(bw + ".x1", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, d)));
        grids.addWorkerGrid(bw + ".x3", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, d)));
        grids.addWorkerGrid(bw + ".x", TornadoBackend.workers(new int[] {n * d}));
        grids.addWorkerGrid(bw + ".w1", TornadoBackend.workers(TornadoBackend.matmulGrid(1, f, d)));
        grids.addWorkerGrid(bw + ".w3", TornadoBackend.workers(TornadoBackend.matmulGrid(1, f, d)));
        grids.addWorkerGrid(bw + ".w2", TornadoBackend.workers(TornadoBackend.matmulGrid(1, dOut, f)));

        build(forward, backward);
    }

    /** Adds a = x W1ᵀ, b = x W3ᵀ and z = silu(a) ⊙ b to graph {@code name}. */
    private static TaskGraph gated(TaskGraph g, String name, GridScheduler grids, float[] x, float[] w1, float[] w3,
                                   float[] a, float[] b, float[] z, int n, int f, int d) {
        g = TornadoBackend.matmulTask("a", n, f, d, false, true).add(g, new float[][] {x, w1}, a);
        g = TornadoBackend.matmulTask("b", n, f, d, false, true).add(g, new float[][] {x, w3}, b)
                .task("z", TornadoKernels::swiGluKernel, new KernelContext(), a, b, z, n * f);
        grids.addWorkerGrid(name + ".a", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, f)));
        grids.addWorkerGrid(name + ".b", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, f)));
        grids.addWorkerGrid(name + ".z", TornadoBackend.workers(new int[] {n * f}));
        return g;
    }
}
