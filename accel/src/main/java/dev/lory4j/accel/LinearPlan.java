package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * Everything a training step does with one parameter W [r, c] of a linear layer, for m-row activations, as one
 * execution plan whose graphs share the device buffers of W, its gradient G and its AdamW moments (TornadoVM
 * shares device buffers only between the graphs of one plan):
 * <ol start="0">
 * <li>{@link #UPLOAD}: copies W, G and the moments to the device (first use, or after the host changed W);</li>
 * <li>{@link #TIMES_W}: a [m, r] · W, a in and the product out;</li>
 * <li>{@link #TIMES_WT}: a [m, c] · Wᵀ (the layer's forward x · Wᵀ);</li>
 * <li>{@link #BACKWARD}: dx = dy · W out and G = dyᵀ · x kept on the device (dy and x in);</li>
 * <li>{@link #NORM}: partial sums of G² out (gradient clipping);</li>
 * <li>{@link #SCALE}: G · s in place (clipping; s in);</li>
 * <li>{@link #ADAMW}: the AdamW step of W with G and the moments, all in place on the device.</li>
 * </ol>
 * So in training W, G and the moments never cross; the host asks for them ({@link #pull}) only when it reads them
 * (a checkpoint, an evaluation on another plan). Every graph names all four persistent buffers (consumed from the
 * graph run before it and available for {@link #pull}), because TornadoVM wires a graph's consumed buffers from
 * the last graph executed in the plan.
 */
final class LinearPlan {
    static final int UPLOAD = 0;
    static final int TIMES_W = 1;
    static final int TIMES_WT = 2;
    static final int BACKWARD = 3;
    static final int NORM = 4;
    static final int SCALE = 5;
    static final int ADAMW = 6;

    /** Partial sums of G² computed by {@link #NORM} (summed on the host in double). */
    static final int NORM_CHUNKS = 256;

    final int r;
    final int c;
    final int m;
    final float[] w;
    final float[] g;
    final float[] mom1;
    final float[] mom2;
    final float[] aN;
    final float[] cN;
    final float[] aT;
    final float[] cT;
    final float[] dy;
    final float[] x;
    final float[] dx;
    final float[] partial = new float[NORM_CHUNKS];
    final float[] scale = new float[1];
    final float[] hyper = new float[8];
    private final TornadoExecutionPlan plan;
    private TornadoExecutionResult last;
    private int lastGraph = -1;

    // What the device holds, in Storage versions (see TornadoBackend): W's, the bound optimizer moments', and the
    // gradient handed out last. Guarded by the backend's lock.
    final Storage weight;
    int heldW = Integer.MIN_VALUE;
    Storage moment1; // the optimizer's moment tensors bound to mom1 and mom2 (null before the first step here)
    Storage moment2;
    int heldM1;
    int heldM2;
    Storage grad; // the gradient last handed out while it lives on the device, else null
    int gradVersion;

    /** Builds the plan for the parameter W [r, c] (its storage) and m rows; {@code id} names its graphs. */
    LinearPlan(String id, Storage weight, int r, int c, int m) {
        this.r = r;
        this.c = c;
        this.m = m;
        this.weight = weight;
        this.w = weight.unsynced();
        g = new float[r * c];
        mom1 = new float[r * c];
        mom2 = new float[r * c];
        aN = new float[m * r];
        cN = new float[m * c];
        aT = new float[m * c];
        cT = new float[m * r];
        dy = new float[m * r];
        x = new float[m * c];
        dx = new float[m * c];
        int n = r * c;
        GridScheduler grids = new GridScheduler();
        TaskGraph upload = new TaskGraph(id + "u")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, w, g, mom1, mom2)
                .task("w", TornadoKernels::keepKernel, new KernelContext(), w)
                .task("g", TornadoKernels::keepKernel, new KernelContext(), g)
                .task("m", TornadoKernels::keepKernel, new KernelContext(), mom1)
                .task("v", TornadoKernels::keepKernel, new KernelContext(), mom2);
        for (String t : new String[] {"w", "g", "m", "v"}) {
            grids.addWorkerGrid(id + "u." + t, TornadoBackend.workers(new int[] {1}));
        }
        upload = persistent(upload);

        TaskGraph timesW = consume(new TaskGraph(id + "n"), upload).transferToDevice(DataTransferMode.EVERY_EXECUTION, aN);
        timesW = TornadoBackend.matmulTask("t", m, c, r, false, false).add(timesW, new float[][] {aN, w}, cN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, cN);
        grids.addWorkerGrid(id + "n.t", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, c)));

        TaskGraph timesWt = consume(new TaskGraph(id + "t"), upload).transferToDevice(DataTransferMode.EVERY_EXECUTION, aT);
        timesWt = TornadoBackend.matmulTask("t", m, r, c, false, true).add(timesWt, new float[][] {aT, w}, cT)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, cT);
        grids.addWorkerGrid(id + "t.t", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, r)));

        TaskGraph backward = consume(new TaskGraph(id + "b"), upload)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, dy, x);
        backward = TornadoBackend.matmulTask("x", m, c, r, false, false).add(backward, new float[][] {dy, w}, dx);
        backward = TornadoBackend.matmulTask("g", r, c, m, true, false).add(backward, new float[][] {dy, x}, g)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx);
        grids.addWorkerGrid(id + "b.x", TornadoBackend.workers(TornadoBackend.matmulGrid(1, m, c)));
        grids.addWorkerGrid(id + "b.g", TornadoBackend.workers(TornadoBackend.matmulGrid(1, r, c)));

        TaskGraph norm = consume(new TaskGraph(id + "q"), upload)
                .task("t", TornadoKernels::sumSquaresChunksKernel, new KernelContext(), g, partial, NORM_CHUNKS, n)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, partial);
        grids.addWorkerGrid(id + "q.t", TornadoBackend.workers(new int[] {NORM_CHUNKS}));

        TaskGraph scaling = consume(new TaskGraph(id + "s"), upload)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, scale)
                .task("t", TornadoKernels::scaleInPlaceKernel, new KernelContext(), g, scale, n);
        grids.addWorkerGrid(id + "s.t", TornadoBackend.workers(new int[] {n}));

        TaskGraph adamw = consume(new TaskGraph(id + "a"), upload)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, hyper)
                .task("t", TornadoKernels::adamwKernel, new KernelContext(), w, g, mom1, mom2, hyper, n);
        grids.addWorkerGrid(id + "a.t", TornadoBackend.workers(new int[] {n}));

        plan = new TornadoExecutionPlan(upload.snapshot(), persistent(timesW).snapshot(),
                persistent(timesWt).snapshot(), persistent(backward).snapshot(), persistent(norm).snapshot(),
                persistent(scaling).snapshot(), persistent(adamw).snapshot());
        plan.withGridScheduler(grids);
    }

    /** Declares W, G and the moments consumed from {@code source} (a graph's first declaration). */
    private TaskGraph consume(TaskGraph graph, TaskGraph source) {
        return graph.consumeFromDevice(source.getTaskGraphName(), w, g, mom1, mom2);
    }

    /** Keeps W, G and the moments on the device after the graph and lets the host ask for them. */
    private TaskGraph persistent(TaskGraph graph) {
        return graph.persistOnDevice(w, g, mom1, mom2).transferToHost(DataTransferMode.UNDER_DEMAND, w, g, mom1, mom2);
    }

    /** Runs graph {@code index}. */
    void run(int index) {
        last = plan.withGraph(index).execute();
        lastGraph = index;
    }

    /** Copies one of the persistent arrays (w, g, mom1, mom2) from the device into itself; false if none ran yet. */
    boolean pull(float[] array) {
        if (last == null) {
            return false; // nothing ran: the host array is what the device would hold
        }
        plan.withGraph(lastGraph); // the graph run last holds the current device buffers
        last.transferToHost(array);
        return true;
    }

    /** G² summed (in double) over the partial sums of {@link #NORM}. */
    double sumOfSquares() {
        run(NORM);
        double s = 0;
        for (float p : partial) {
            s += p;
        }
        return s;
    }

    /** Releases the plan's device memory. */
    void close() {
        TornadoBackend.closePlan(plan);
    }
}
