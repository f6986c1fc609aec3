package dev.lory4j.accel;

import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The SwiGLU block y = (silu(x W1ᵀ) ⊙ (x W3ᵀ)) W2ᵀ of one layer (its three weights, model parameters kept on the
 * device) for n rows, as one execution plan of three graphs that share the weights' device buffers:
 * <ol start="0">
 * <li>copies W1, W3 and W2 to the device (run only when the host changed one of them);</li>
 * <li>the forward pass: x in, y out;</li>
 * <li>the backward pass (recomputing a = x W1ᵀ, b = x W3ᵀ): x and dy in; dx, dW1, dW3, dW2 out.</li>
 * </ol>
 * The [n, f] intermediates (a, b, their gated product and its gradients) live only on the device.
 */
final class SwiGluPlan {
    final float[] x1;
    final float[] y1;
    final float[] x2;
    final float[] dy2;
    final float[] dx2;
    final float[] dw1;
    final float[] dw3;
    final float[] dw2;
    final TornadoExecutionPlan plan;
    int[] versions; // host versions of W1, W3, W2 on the device; null before the first copy

    /**
     * Builds the plan for W1, W3 [f, d] and W2 [dOut, f] and n rows; {@code scratch.apply(slot, size)} gives the
     * device-only intermediate arrays (never copied, so plans may share them).
     */
    SwiGluPlan(String id, float[] w1, float[] w3, float[] w2, int n, int f, int d, int dOut,
               BiFunction<Integer, Integer, float[]> scratch) {
        float[] a = scratch.apply(0, n * f);
        float[] b = scratch.apply(1, n * f);
        float[] z = scratch.apply(2, n * f);
        float[] dz = scratch.apply(3, n * f);
        float[] da = scratch.apply(4, n * f);
        float[] db = scratch.apply(5, n * f);
        float[] dx1 = scratch.apply(6, n * d);
        float[] dx3 = scratch.apply(7, n * d);
        TaskGraph upload = new TaskGraph(id + "u")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, w1, w3, w2)
                .task("t1", TornadoKernels::keepKernel, new KernelContext(), w1)
                .task("t3", TornadoKernels::keepKernel, new KernelContext(), w3)
                .task("t2", TornadoKernels::keepKernel, new KernelContext(), w2)
                .persistOnDevice(w1, w3, w2);
        GridScheduler grids = new GridScheduler();
        for (String t : new String[] {"t1", "t3", "t2"}) {
            grids.addWorkerGrid(id + "u." + t, TornadoBackend.workers(new int[] {1}));
        }

        x1 = new float[n * d];
        y1 = new float[n * dOut];
        String fw = id + "f";
        TaskGraph forward = new TaskGraph(fw)
                .consumeFromDevice(upload.getTaskGraphName(), w1, w3, w2)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x1);
        forward = gated(forward, fw, grids, x1, w1, w3, a, b, z, n, f, d);
        forward = TornadoBackend.matmulTask("y", n, dOut, f, false, true).add(forward, new float[][] {z, w2}, y1)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1)
                .transferToHost(DataTransferMode.UNDER_DEMAND, a, b, z);
        grids.addWorkerGrid(fw + ".y", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, dOut)));

        x2 = new float[n * d];
        dy2 = new float[n * dOut];
        dx2 = new float[n * d];
        dw1 = new float[f * d];
        dw3 = new float[f * d];
        dw2 = new float[dOut * f];
        String bw = id + "b";
        TaskGraph backward = new TaskGraph(bw)
                .consumeFromDevice(upload.getTaskGraphName(), w1, w3, w2)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, dy2);
        backward = gated(backward, bw, grids, x2, w1, w3, a, b, z, n, f, d);
        backward = TornadoBackend.matmulTask("dz", n, f, dOut, false, false).add(backward, new float[][] {dy2, w2}, dz)
                .task("g", TornadoKernels::swiGluBackwardKernel, new KernelContext(), a, b, dz, da, db, n * f);
        backward = TornadoBackend.matmulTask("x1", n, d, f, false, false).add(backward, new float[][] {da, w1}, dx1);
        backward = TornadoBackend.matmulTask("x3", n, d, f, false, false).add(backward, new float[][] {db, w3}, dx3)
                .task("x", TornadoKernels::addKernel, new KernelContext(), dx1, dx3, dx2, n * d);
        backward = TornadoBackend.matmulTask("w1", f, d, n, true, false).add(backward, new float[][] {da, x2}, dw1);
        backward = TornadoBackend.matmulTask("w3", f, d, n, true, false).add(backward, new float[][] {db, x2}, dw3);
        backward = TornadoBackend.matmulTask("w2", dOut, f, n, true, false).add(backward, new float[][] {dy2, z}, dw2)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2, dw1, dw3, dw2)
                .transferToHost(DataTransferMode.UNDER_DEMAND, a, b, z, dz, da, db, dx1, dx3);
        grids.addWorkerGrid(bw + ".dz", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, f)));
        grids.addWorkerGrid(bw + ".g", TornadoBackend.workers(new int[] {n * f}));
        grids.addWorkerGrid(bw + ".x1", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, d)));
        grids.addWorkerGrid(bw + ".x3", TornadoBackend.workers(TornadoBackend.matmulGrid(1, n, d)));
        grids.addWorkerGrid(bw + ".x", TornadoBackend.workers(new int[] {n * d}));
        grids.addWorkerGrid(bw + ".w1", TornadoBackend.workers(TornadoBackend.matmulGrid(1, f, d)));
        grids.addWorkerGrid(bw + ".w3", TornadoBackend.workers(TornadoBackend.matmulGrid(1, f, d)));
        grids.addWorkerGrid(bw + ".w2", TornadoBackend.workers(TornadoBackend.matmulGrid(1, dOut, f)));

        plan = new TornadoExecutionPlan(upload.snapshot(), forward.snapshot(), backward.snapshot());
        plan.withGridScheduler(grids);
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
