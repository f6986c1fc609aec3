package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * One execution plan whose graphs share, on the device, the training state of k model parameters: each weight W_i,
 * its gradient G_i and its two AdamW moments. TornadoVM shares device buffers only between the graphs of one plan,
 * so everything a training step does with a parameter is a graph of the plan that holds it. The graphs, in order:
 * <ol>
 * <li>the plan's first run (one graph per {@link #INIT_CHUNK} parameters): copies every W_i (and any extra array) to
 * the device and fills the G_i and moments there with zeros (what the plan's own host arrays hold), so nothing but
 * the weights crosses;</li>
 * <li>k graphs: copies W_i only (the host changed it);</li>
 * <li>k graphs: copies the moments of parameter i only (an optimizer's moments were bound, or the host changed
 * them, e.g. a checkpoint load). No graph copies a gradient in: the G_i are only ever written on the device;</li>
 * <li>the subclass's compute graphs ({@link #compute}: products with the W_i, backward passes that leave the G_i
 * on the device);</li>
 * <li>for each parameter i ({@link #norm}, {@link #scale}, {@link #adamw}): partial sums of G_i² out (gradient
 * clipping), G_i · s in place (clipping), the AdamW step of W_i with G_i and its moments in place;</li>
 * <li>the same three for {@link #BATCH} parameters at a time, for a step that updates them all.</li>
 * </ol>
 * So in training the W_i, G_i and moments never cross; the host asks for one ({@link #pull}) only when it reads it
 * (a checkpoint, an evaluation on another plan). Every graph names all 4k buffers, consumed from the graph run
 * before it and available to {@link #pull}, because TornadoVM 5.2 wires a graph's consumed buffers from the last
 * graph executed in the plan ({@code TornadoTaskGraph.updatePersistedObjectState}): a graph that left one out would
 * lose it for the graphs after it.
 */
abstract class ParamPlan {
    /** Partial sums of G² computed by a norm graph (summed on the host in double). */
    static final int NORM_CHUNKS = 256;

    /**
     * Parameters set up per graph of the first run. TornadoVM 5.2 builds each graph in at most 1024 nodes
     * ({@code TornadoGraph}; it cannot grow), and setting up a parameter takes about 20 (its four buffers, the
     * weight's copy, three zero-filling tasks, their allocations and dependencies), so a plan with many parameters
     * sets them up in several graphs.
     */
    private static final int INIT_CHUNK = 16;

    /** Extra arrays copied in per graph of the first run (each takes a transfer and a task). */
    private static final int ARRAY_CHUNK = 32;

    /**
     * Parameters per graph of the batched clipping and AdamW graphs ({@link #sumOfSquaresAll}, {@link #scaleAll},
     * {@link #adamwAll}): one graph run for many parameters instead of one each, within TornadoVM's 1024 nodes.
     */
    static final int BATCH = 16;

    /** One parameter's buffers in the plan and what the host knows of them (guarded by the backend's lock). */
    static final class Param {
        final ParamPlan plan;
        final int index;
        final Storage weight;
        final float[] w; // the weight's own host array (pulls fill it directly)
        final float[] g;
        final float[] mom1;
        final float[] mom2;
        int heldW = Integer.MIN_VALUE; // W's storage version the device copy matches
        Storage moment1; // the optimizer's moment tensors bound to mom1 and mom2 (null before the first step here)
        Storage moment2;
        int heldM1;
        int heldM2;
        boolean zeroMoments; // the device moments are still the zeros of the first run
        Storage grad; // the gradient last handed out while it lives on the device, else null
        int gradVersion;

        private Param(ParamPlan plan, int index, Storage weight) {
            this.plan = plan;
            this.index = index;
            this.weight = weight;
            this.w = weight.unsynced();
            int n = w.length;
            g = new float[n];
            mom1 = new float[n];
            mom2 = new float[n];
        }

        /** Floats in W (and in each of G and the moments). */
        int size() {
            return w.length;
        }

        private Object[] arrays() {
            return new Object[] {w, g, mom1, mom2};
        }
    }

    final Param[] params;
    final float[][] extra;
    final int[][] ints;
    final String id;
    final GridScheduler grids = new GridScheduler();
    final float[] partial = new float[NORM_CHUNKS];
    final float[] scale = new float[1];
    final float[] hyper = new float[8];
    private float[][] batchPartials;
    long runs; // graph runs so far (for tests)
    /** Whether TornadoVM's profiler counts this plan's copies ({@code -Dlory4j.tornado.profile}, read when built). */
    final boolean profiled = Boolean.getBoolean("lory4j.tornado.profile");
    long profiledBytes; // bytes TornadoVM's profiler counted in and out of graph runs (when profiled)
    private final Object[] state; // the 4k persistent arrays and the extra ones
    private final int initGraphs;
    private final List<TaskGraph> graphs = new ArrayList<>();
    private int computeGraphs = -1;
    private TornadoExecutionPlan plan;
    private TornadoExecutionResult last;
    private int lastGraph = -1;

    /** Starts the plan {@code id} for these parameters (their storages) with its upload graphs. */
    ParamPlan(String id, Storage... weights) {
        this(id, new float[0][], weights);
    }

    /**
     * Starts the plan {@code id} for these parameters with its upload graphs, and {@code extra} arrays that every
     * graph keeps on the device too (activations shared between compute graphs, constant tables): the first run
     * copies them in as the host holds them then; afterwards only compute graphs write them.
     */
    ParamPlan(String id, float[][] extra, Storage... weights) {
        this(id, extra, new int[0][], weights);
    }

    /**
     * As {@link #ParamPlan(String, float[][], Storage...)}, with integer arrays kept on the device too (token inputs,
     * index tables): the first run copies them in; afterwards a graph made by {@link #uploading} copies them again.
     */
    ParamPlan(String id, float[][] extra, int[][] ints, Storage... weights) {
        this.id = id;
        this.extra = extra;
        this.ints = ints;
        params = new Param[weights.length];
        List<Object> all = new ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            params[i] = new Param(this, i, weights[i]);
            all.addAll(List.of(params[i].arrays()));
        }
        all.addAll(List.of((Object[]) extra));
        all.addAll(List.of((Object[]) ints));
        state = all.toArray();
        int paramChunks = Math.max(1, (params.length + INIT_CHUNK - 1) / INIT_CHUNK);
        List<Object> arrays = new ArrayList<>(List.of((Object[]) extra));
        arrays.addAll(List.of((Object[]) ints));
        initGraphs = paramChunks + (arrays.size() + ARRAY_CHUNK - 1) / ARRAY_CHUNK;
        for (int c = 0; c < initGraphs; c++) {
            String name = id + "u" + c;
            List<Object> mine = new ArrayList<>();
            for (int i = c * INIT_CHUNK; i < Math.min(params.length, (c + 1) * INIT_CHUNK); i++) {
                mine.addAll(List.of(params[i].arrays()));
            }
            int a0 = (c - paramChunks) * ARRAY_CHUNK;
            List<Object> myArrays = c < paramChunks ? List.of()
                    : arrays.subList(a0, Math.min(arrays.size(), a0 + ARRAY_CHUNK));
            mine.addAll(myArrays);
            TaskGraph init = new TaskGraph(name);
            if (c > 0) { // the chunks before this one hold their buffers already
                List<Object> others = new ArrayList<>(all);
                others.removeAll(mine); // by identity: arrays compare by reference
                init = init.consumeFromDevice(id + "u" + (c - 1), others.toArray());
            }
            for (int i = 0; i < myArrays.size(); i++) {
                init = init.transferToDevice(DataTransferMode.EVERY_EXECUTION, myArrays.get(i));
                init = myArrays.get(i) instanceof float[] f ? keep(init, name, "e" + i, f)
                        : keep(init, name, "e" + i, (int[]) myArrays.get(i));
            }
            for (int i = c * INIT_CHUNK; i < Math.min(params.length, (c + 1) * INIT_CHUNK); i++) {
                Param p = params[i];
                init = keep(init.transferToDevice(DataTransferMode.EVERY_EXECUTION, p.w), name, "w" + i, p.w);
                for (float[] zeros : new float[][] {p.g, p.mom1, p.mom2}) {
                    String task = "z" + i + (zeros == p.g ? "g" : zeros == p.mom1 ? "m" : "v");
                    init = init.task(task, TornadoKernels::zeroKernel, new KernelContext(), zeros, p.size());
                    grids.addWorkerGrid(name + "." + task, TornadoBackend.workers(new int[] {p.size()}));
                }
            }
            graphs.add(persistent(init));
        }
        for (Param p : params) {
            graphs.add(persistent(copying("w" + p.index, all, p.w)));
        }
        for (Param p : params) {
            graphs.add(persistent(copying("m" + p.index, all, p.mom1, p.mom2)));
        }
    }

    /** A graph that copies {@code mine} to the device and consumes the rest of {@code all} there. */
    private TaskGraph copying(String suffix, List<Object> all, float[]... mine) {
        String name = id + suffix;
        List<Object> others = new ArrayList<>(all);
        others.removeAll(List.of((Object[]) mine)); // by identity: arrays compare by reference
        TaskGraph graph = new TaskGraph(name).consumeFromDevice(id + "u0", others.toArray())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, (Object[]) mine);
        for (int i = 0; i < mine.length; i++) {
            graph = keep(graph, name, "k" + i, mine[i]);
        }
        return graph;
    }

    /** Adds a do-nothing task on {@code array}, so the graph copies it (TornadoVM's own way to force a copy). */
    private TaskGraph keep(TaskGraph graph, String name, String task, float[] array) {
        grids.addWorkerGrid(name + "." + task, TornadoBackend.workers(new int[] {1}));
        return graph.task(task, TornadoKernels::keepKernel, new KernelContext(), array);
    }

    /** {@link #keep(TaskGraph, String, String, float[])} for an integer array. */
    private TaskGraph keep(TaskGraph graph, String name, String task, int[] array) {
        grids.addWorkerGrid(name + "." + task, TornadoBackend.workers(new int[] {1}));
        return graph.task(task, TornadoKernels::keepIntsKernel, new KernelContext(), array);
    }

    /**
     * A compute graph {@code id + suffix} that copies these arrays (integer or float ones of this plan) to the device
     * at every run and consumes every other buffer there: a step's inputs.
     */
    TaskGraph uploading(String suffix, Object... mine) {
        String name = id + suffix;
        List<Object> others = new ArrayList<>(List.of(state));
        others.removeAll(List.of(mine)); // by identity: arrays compare by reference
        TaskGraph graph = new TaskGraph(name).consumeFromDevice(graphs.get(0).getTaskGraphName(), others.toArray())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, mine);
        for (int i = 0; i < mine.length; i++) {
            graph = mine[i] instanceof int[] a ? keep(graph, name, "k" + i, a) : keep(graph, name, "k" + i,
                    (float[]) mine[i]);
        }
        return graph;
    }

    /** A new graph {@code id + suffix} that consumes all parameter buffers (for a compute graph; its first call). */
    TaskGraph graph(String suffix) {
        return new TaskGraph(id + suffix).consumeFromDevice(graphs.get(0).getTaskGraphName(), state);
    }

    /** Keeps every parameter buffer on the device after the graph and lets the host ask for them. */
    private TaskGraph persistent(TaskGraph graph) {
        return graph.persistOnDevice(state).transferToHost(DataTransferMode.UNDER_DEMAND, state);
    }

    /** Ends the plan: the subclass's compute graphs (made with {@link #graph}), then each parameter's update graphs. */
    final void build(TaskGraph... compute) {
        computeGraphs = compute.length;
        batchPartials = new float[batches()][];
        for (TaskGraph c : compute) {
            graphs.add(persistent(c));
        }
        for (Param p : params) {
            int n = p.size();
            String name = "n" + p.index;
            graphs.add(persistent(graph(name)
                    .task("t", TornadoKernels::sumSquaresChunksKernel, new KernelContext(), p.g, partial, NORM_CHUNKS, n,
                            0)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, partial)));
            grids.addWorkerGrid(id + name + ".t", TornadoBackend.workers(new int[] {NORM_CHUNKS}));
            name = "s" + p.index;
            graphs.add(persistent(graph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, scale)
                    .task("t", TornadoKernels::scaleInPlaceKernel, new KernelContext(), p.g, scale, n)));
            grids.addWorkerGrid(id + name + ".t", TornadoBackend.workers(new int[] {n}));
            name = "a" + p.index;
            graphs.add(persistent(graph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, hyper)
                    .task("t", TornadoKernels::adamwKernel, new KernelContext(), p.w, p.g, p.mom1, p.mom2, hyper, n)));
            grids.addWorkerGrid(id + name + ".t", TornadoBackend.workers(new int[] {n}));
        }
        for (int c = 0; c < batches(); c++) {
            int from = c * BATCH;
            int to = Math.min(params.length, from + BATCH);
            batchPartials[c] = new float[(to - from) * NORM_CHUNKS];
            TaskGraph norms = graph("zn" + c);
            TaskGraph scales = graph("zs" + c).transferToDevice(DataTransferMode.EVERY_EXECUTION, scale);
            TaskGraph steps = graph("za" + c).transferToDevice(DataTransferMode.EVERY_EXECUTION, hyper);
            for (int i = from; i < to; i++) {
                Param p = params[i];
                int n = p.size();
                String task = "t" + i;
                norms = norms.task(task, TornadoKernels::sumSquaresChunksKernel, new KernelContext(), p.g,
                        batchPartials[c], NORM_CHUNKS, n, (i - from) * NORM_CHUNKS);
                scales = scales.task(task, TornadoKernels::scaleInPlaceKernel, new KernelContext(), p.g, scale, n);
                steps = steps.task(task, TornadoKernels::adamwKernel, new KernelContext(), p.w, p.g, p.mom1, p.mom2,
                        hyper, n);
                grids.addWorkerGrid(id + "zn" + c + "." + task, TornadoBackend.workers(new int[] {NORM_CHUNKS}));
                grids.addWorkerGrid(id + "zs" + c + "." + task, TornadoBackend.workers(new int[] {n}));
                grids.addWorkerGrid(id + "za" + c + "." + task, TornadoBackend.workers(new int[] {n}));
            }
            graphs.add(persistent(norms.transferToHost(DataTransferMode.EVERY_EXECUTION, batchPartials[c])));
            graphs.add(persistent(scales));
            graphs.add(persistent(steps));
        }
        plan = new TornadoExecutionPlan(graphs.stream().map(TaskGraph::snapshot)
                .toArray(uk.ac.manchester.tornado.api.ImmutableTaskGraph[]::new));
        plan.withGridScheduler(grids);
        if (profiled) {
            plan.withProfiler(uk.ac.manchester.tornado.api.enums.ProfilerMode.SILENT);
        }
    }

    /** The index of compute graph {@code j} (in the order given to {@link #build}). */
    final int compute(int j) {
        return initGraphs + 2 * params.length + j;
    }

    /** The graph that writes partial sums of G_i² to {@link #partial}. */
    final int norm(int i) {
        return compute(computeGraphs) + 3 * i;
    }

    /** The graph that multiplies G_i by {@code scale[0]} in place. */
    final int scale(int i) {
        return norm(i) + 1;
    }

    /** The graph that runs AdamW on W_i with the hyper-parameters in {@link #hyper}. */
    final int adamw(int i) {
        return norm(i) + 2;
    }

    /** How many graphs of {@link #BATCH} parameters each cover all of them (for the batched updates). */
    final int batches() {
        return (params.length + BATCH - 1) / BATCH;
    }

    /** Σ over all parameters of G_i², from the batched norm graphs (partial sums added in double). */
    final double sumOfSquaresAll() {
        double s = 0;
        for (int c = 0; c < batches(); c++) {
            run(adamw(params.length - 1) + 1 + 3 * c);
            for (float p : batchPartials[c]) {
                s += p;
            }
        }
        return s;
    }

    /** Multiplies every G_i by {@code scale[0]} in place (batched graphs). */
    final void scaleAll() {
        for (int c = 0; c < batches(); c++) {
            run(adamw(params.length - 1) + 2 + 3 * c);
        }
    }

    /** Runs AdamW on every W_i with the hyper-parameters in {@link #hyper} (batched graphs). */
    final void adamwAll() {
        for (int c = 0; c < batches(); c++) {
            run(adamw(params.length - 1) + 3 + 3 * c);
        }
    }

    /** Whether any graph ran yet (before that the device holds nothing). */
    final boolean ran() {
        return last != null;
    }

    /** Runs graph {@code index}. */
    final void run(int index) {
        last = plan.withGraph(index).execute();
        lastGraph = index;
        runs++;
        if (profiled) {
            var r = last.getProfilerResult();
            profiledBytes += r.getTotalBytesCopyIn() + r.getTotalBytesCopyOut();
        }
    }

    /**
     * Copies the stale weights in: on the plan's first run every weight (and the gradients and moments become zeros
     * on the device), afterwards only the weights marked.
     */
    final void uploadWeights(boolean[] stale) {
        if (!ran()) {
            for (int c = 0; c < initGraphs; c++) {
                run(c);
            }
            for (Param p : params) {
                p.zeroMoments = true;
            }
            return;
        }
        for (int i = 0; i < stale.length; i++) {
            if (stale[i]) {
                run(initGraphs + i);
            }
        }
    }

    /** Copies the moments of parameter i (its host arrays mom1 and mom2) in; the plan has run. */
    final void uploadMoments(int i) {
        run(initGraphs + params.length + i);
        params[i].zeroMoments = false;
    }

    /** Copies one of the persistent arrays from the device into itself; false if nothing ran yet. */
    final boolean pull(float[] array) {
        if (last == null) {
            return false; // nothing ran: the host array is what the device would hold
        }
        plan.withGraph(lastGraph); // the graph run last holds the current device buffers
        last.transferToHost(array);
        return true;
    }

    /** G_i² summed (in double) over the partial sums of its norm graph. */
    final double sumOfSquares(int i) {
        run(norm(i));
        double s = 0;
        for (float p : partial) {
            s += p;
        }
        return s;
    }

    /** Releases the plan's device memory. */
    final void close() {
        TornadoBackend.closePlan(plan);
    }
}
