package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * Everything a training step does with one parameter W [r, c] of a linear layer, for m-row activations: a
 * {@link ParamPlan} (W, its gradient G and its AdamW moments shared by all graphs) with three compute graphs:
 * <ul>
 * <li>{@link #TIMES_W}: a [m, r] · W, a in and the product out;</li>
 * <li>{@link #TIMES_WT}: a [m, c] · Wᵀ (the layer's forward x · Wᵀ);</li>
 * <li>{@link #BACKWARD}: dx = dy · W out and G = dyᵀ · x kept on the device (dy and x in).</li>
 * </ul>
 */
final class LinearPlan extends ParamPlan {
    static final int TIMES_W = 0;
    static final int TIMES_WT = 1;
    static final int BACKWARD = 2;

    final int r;
    final int c;
    final int m;
    final float[] aN;
    final float[] cN;
    final float[] aT;
    final float[] cT;
    final float[] dy;
    final float[] x;
    final float[] dx;

    /** Builds the plan for the parameter W [r, c] (its storage) and m rows; {@code id} names its graphs. */
    LinearPlan(String id, Storage weight, int r, int c, int m) {
        super(id, weight);
        this.r = r;
        this.c = c;
        this.m = m;
        aN = new float[m * r];
        cN = new float[m * c];
        aT = new float[m * c];
        cT = new float[m * r];
        dy = new float[m * r];
        x = new float[m * c];
        dx = new float[m * c];
        float[] w = params[0].w;
        float[] g = params[0].g;

        TaskGraph timesW = graph("n").transferToDevice(DataTransferMode.EVERY_EXECUTION, aN);
        timesW = TornadoBackend.matmulTask("t", m, c, r, false, false).add(timesW, new float[][] {aN, w}, cN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, cN);
        grids.addWorkerGrid(id + "n.t", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, c)));

        TaskGraph timesWt = graph("t").transferToDevice(DataTransferMode.EVERY_EXECUTION, aT);
        timesWt = TornadoBackend.matmulTask("t", m, r, c, false, true).add(timesWt, new float[][] {aT, w}, cT)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, cT);
        grids.addWorkerGrid(id + "t.t", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, r)));

        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, dy, x);
        backward = TornadoBackend.matmulTask("x", m, c, r, false, false).add(backward, new float[][] {dy, w}, dx);
        backward = TornadoBackend.matmulTask("g", r, c, m, true, false).add(backward, new float[][] {dy, x}, g)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx);
        grids.addWorkerGrid(id + "b.x", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, c)));
        grids.addWorkerGrid(id + "b.g", TornadoBackend.workers(TornadoBackend.matmulGrid(1, r, c)));

        build(timesW, timesWt, backward);
    }
}
