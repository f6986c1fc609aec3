package dev.lory4j.accel;

import dev.lory4j.autograd.capture.Graph;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Storage;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;

/**
 * A captured step ({@link Graph}) compiled into one execution plan: every node becomes device tasks
 * ({@link GraphKernels}, the batched product of {@link TornadoKernels#matmulKernel}, the cross-entropy kernels), in
 * the graph's order, split into task graphs of {@link #TASKS_PER_GRAPH}. Parameters, their gradients and AdamW
 * moments ({@link ParamPlan}), constants and every intermediate stay on the device; intermediates share arrays of
 * the same size once their last reader has run. A run copies in the integer inputs (and, for an index-add on an
 * input, that index as lists per row) and copies out the loss; the gradients stay in the plan's gradient buffers.
 */
final class GraphPlan extends ParamPlan {
    /** Tasks per task graph: TornadoVM 5.2 builds a graph in at most 1024 nodes, and every graph names all buffers. */
    static final int TASKS_PER_GRAPH = Integer.getInteger("lory4j.tornado.graphTasks", 24);

    /** The most buffers a compiled step may keep (each graph names them all; see {@link #TASKS_PER_GRAPH}). */
    static final int MAX_BUFFERS = Integer.getInteger("lory4j.tornado.graphBuffers", 600);

    /** A node the compiler cannot lower (the step then replays op by op). */
    static final class Unsupported extends RuntimeException {
        Unsupported(String message) {
            super(message);
        }
    }

    /** Adds one task, its arrays resolved in the plan, to a task graph under {@code name}. */
    interface TaskAdder {
        TaskGraph add(TaskGraph g, String name, GraphPlan p);
    }

    /** A task and its worker grid. */
    record Task(TaskAdder add, WorkerGrid grid) {}

    /** An index of an integer input given to an index-add as lists per row (filled on the host at every run). */
    record Csr(String input, int rows, int offsets, int positions) {}

    /** A tapped output: the float id of its own array and its shape. */
    record TapOut(int array, int[] shape) {}

    /** An integer input whose values must lie in [0, bound) (or equal {@code ignore}, unless it is MIN_VALUE). */
    record Bound(String input, int bound, int ignore, String op) {}

    /**
     * The lowering of a graph: arrays (named by ids until the plan exists), tasks, and where the inputs and outputs
     * live. Float ids ≥ 0 are {@link #floats}; −1 − 2i is parameter i's weight and −2 − 2i its gradient.
     */
    static final class Lowering {
        final List<float[]> floats = new ArrayList<>();
        final List<int[]> ints = new ArrayList<>(List.of(new int[0])); // ints[0]: the kernels' shared sizes
        final List<Task> tasks = new ArrayList<>();
        final Map<String, Integer> inputs = new LinkedHashMap<>(); // input name -> ints id
        final List<Csr> csrs = new ArrayList<>();
        final List<Bound> bounds = new ArrayList<>();
        final int params;
        /** Whether the graph computes the parameters' gradients (a training step) or only a loss. */
        final boolean gradients;
        int loss = -1;
        int lossAt;
        /** The clipping bound of a step that ends with the update, else NaN. */
        final double maxNorm;
        /** Float ids of a step with the update: the hyper-parameters (in), the clip [norm, coef, ok] (out). */
        int hyper = -1;
        int clip = -1;
        /** The first task of the update (the host runs it only when the loss and the norm are finite), else -1. */
        int updateFrom = -1;
        /** Parameters (states) the graph assigns ({@code "assign i"}): written on the device at the end of a run. */
        final List<Integer> assigned = new ArrayList<>();
        /** Tapped outputs ({@code "tap ..."}): each copied into an array of its own, copied out after a run. */
        final Map<String, TapOut> taps = new LinkedHashMap<>();
        private final Graph graph;
        private final int[] paramSizes;
        private final int[] array; // buffer -> float id (Integer.MIN_VALUE: none yet)
        private final int[] last; // buffer -> the last node that reads it
        private final int[] size; // buffer -> floats it spans
        private final int[] gradOf; // buffer -> the parameter whose gradient it is as a whole, else -1
        private final Map<Integer, ArrayDeque<Integer>> free = new HashMap<>();
        private final Map<Integer, Integer> constants = new HashMap<>(); // buffer -> its offset in floats[0]
        private final List<float[]> pooled = new ArrayList<>(); // the constants' values, in floats[0]'s order
        private final List<Integer> pooledAt = new ArrayList<>();
        private int poolSize;
        private final List<Integer> meta = new ArrayList<>();
        private final List<Integer> scratch = new ArrayList<>(); // float ids to free after the node

        Lowering(Graph graph, int[] paramSizes) {
            this(graph, paramSizes, Double.NaN);
        }

        /**
         * A lowering whose step ends with gradient clipping to {@code maxNorm} and an AdamW step of every parameter
         * (unless maxNorm is NaN), as {@code GradClip} and {@code AdamW} would take them on the host.
         */
        Lowering(Graph graph, int[] paramSizes, double maxNorm) {
            this.maxNorm = maxNorm;
            this.graph = graph;
            this.params = paramSizes.length;
            this.paramSizes = paramSizes;
            this.gradients = graph.outputs().keySet().stream().anyMatch(k -> k.startsWith("grad "));
            floats.add(new float[0]); // floats[0]: every constant, one after another (set by lower())
            int n = graph.buffers().size();
            array = new int[n];
            Arrays.fill(array, Integer.MIN_VALUE);
            last = new int[n];
            size = new int[n];
            gradOf = new int[n];
            Arrays.fill(gradOf, -1);
            liveness();
            graph.inputLengths().forEach((name, len) -> {
                inputs.put(name, ints.size());
                ints.add(new int[len]);
            });
        }

        /** Sizes and last readers of every buffer; the outputs are read after the last node. */
        private void liveness() {
            List<Graph.Node> nodes = graph.nodes();
            for (int k = 0; k < nodes.size(); k++) {
                for (Graph.Ref r : refs(nodes.get(k))) {
                    last[r.buffer()] = Math.max(last[r.buffer()], k);
                    size[r.buffer()] = Math.max(size[r.buffer()], span(r));
                }
                if (nodes.get(k) instanceof Graph.Backward b) {
                    for (Graph.Ref r : refs(nodes.get(b.forward()))) {
                        last[r.buffer()] = Math.max(last[r.buffer()], k);
                    }
                }
            }
            for (Map.Entry<String, Graph.Ref> e : graph.outputs().entrySet()) {
                Graph.Ref r = e.getValue();
                last[r.buffer()] = Integer.MAX_VALUE;
                size[r.buffer()] = Math.max(size[r.buffer()], span(r));
                if (e.getKey().startsWith("grad ")) {
                    int i = Integer.parseInt(e.getKey().substring(5));
                    if (graph.buffers().get(r.buffer()).kind() == Graph.Kind.TEMP && r.offset() == 0
                            && contiguous(r) && numel(r.shape()) == paramSizes[i] && size[r.buffer()] == paramSizes[i]
                            && gradOf[r.buffer()] < 0) {
                        gradOf[r.buffer()] = i;
                    }
                }
            }
        }

        /** The floats of each parameter, in order. */
        int[] paramSizes() {
            return paramSizes.clone();
        }

        /** Lowers every node, then the gradients that are not already the plan's gradient buffers. */
        Lowering lower() {
            List<Graph.Node> nodes = graph.nodes();
            for (int k = 0; k < nodes.size(); k++) {
                switch (nodes.get(k)) {
                    case Graph.Prim p -> prim(p);
                    case Graph.Forward f -> crossEntropy(f);
                    case Graph.Backward b -> crossEntropyBackward(b, (Graph.Forward) nodes.get(b.forward()));
                }
                for (int id : scratch) {
                    release(id);
                }
                scratch.clear();
                for (int b = 0; b < last.length; b++) {
                    if (last[b] == k && graph.buffers().get(b).kind() == Graph.Kind.TEMP
                            && array[b] != Integer.MIN_VALUE) {
                        release(array[b]);
                    }
                }
            }
            for (Map.Entry<String, Graph.Ref> e : graph.outputs().entrySet()) {
                Graph.Ref r = e.getValue();
                if (e.getKey().equals("loss")) {
                    loss = id(r);
                    lossAt = r.offset();
                } else if (e.getKey().startsWith("grad ")) {
                    int i = Integer.parseInt(e.getKey().substring(5));
                    if (gradOf[r.buffer()] != i) {
                        int[] shape = r.shape().clone();
                        copy(r, -2 - 2 * i, 0, Shapes.contiguousStrides(shape), shape);
                    }
                } else if (e.getKey().startsWith("assign ")) { // a state's new value, written over it last
                    int i = Integer.parseInt(e.getKey().substring(7));
                    int[] shape = r.shape().clone();
                    if (numel(shape) != paramSizes[i]) {
                        throw new Unsupported("an assignment of " + numel(shape) + " floats to parameter " + i + " of "
                                + paramSizes[i]);
                    }
                    copy(r, -1 - 2 * i, 0, Shapes.contiguousStrides(shape), shape);
                    assigned.add(i);
                } else if (e.getKey().startsWith("tap ")) {
                    int[] shape = r.shape().clone();
                    floats.add(new float[Math.max(numel(shape), 1)]); // exactly its size: a run copies out no more
                    int dst = floats.size() - 1;
                    copy(r, dst, 0, Shapes.contiguousStrides(shape), shape);
                    taps.put(e.getKey(), new TapOut(dst, shape));
                } else {
                    throw new Unsupported("output " + e.getKey());
                }
            }
            if (loss < 0 && gradients) {
                throw new Unsupported("a step with gradients but without a loss");
            }
            if (!Double.isNaN(maxNorm)) {
                update();
            }
            ints.set(0, meta.stream().mapToInt(Integer::intValue).toArray());
            float[] pool = new float[Math.max(poolSize, 1)];
            for (int j = 0; j < pooled.size(); j++) {
                System.arraycopy(pooled.get(j), 0, pool, pooledAt.get(j), pooled.get(j).length);
            }
            floats.set(0, pool);
            int buffers = 4 * params + floats.size() + ints.size();
            if (buffers > MAX_BUFFERS) {
                throw new Unsupported(buffers + " device buffers (more than " + MAX_BUFFERS + ")");
            }
            return this;
        }

        /**
         * Clipping and AdamW after the gradients: each G_i's squared chunk sums (as the host's norm takes them), one
         * task summing them all in double in the host's order into clip = [norm, coef]; then, in graphs of their own
         * that the host runs only when the loss and the norm are finite (a device compiler may assume finite math, so
         * the check is the host's), per parameter G_i · coef and the AdamW step.
         */
        private void update() {
            if (!gradients || loss < 0) {
                throw new Unsupported("an update without gradients and a loss");
            }
            floats.add(new float[8]);
            hyper = floats.size() - 1;
            int chunks = ParamPlan.NORM_CHUNKS;
            floats.add(new float[params * chunks]);
            int partials = floats.size() - 1;
            floats.add(new float[2]);
            clip = floats.size() - 1;
            double bound = maxNorm;
            for (int i = 0; i < params; i++) {
                int g = -2 - 2 * i;
                int n = paramSizes[i];
                int offset = i * chunks;
                tasks.add(new Task((t, name, p) -> t.task(name, TornadoKernels::sumSquaresChunksKernel,
                        new KernelContext(), p.f(g), p.f(partials), chunks, n, offset),
                        TornadoBackend.workers(new int[] {chunks})));
            }
            int count = params * chunks;
            tasks.add(new Task((t, name, p) -> t.task(name, GraphKernels::clipKernel, new KernelContext(),
                    p.f(partials), count, p.f(clip), bound), TornadoBackend.workers(new int[] {1})));
            updateFrom = tasks.size();
            for (int i = 0; i < params; i++) {
                int w = -1 - 2 * i;
                int g = -2 - 2 * i;
                int n = paramSizes[i];
                int index = i;
                tasks.add(new Task((t, name, p) -> t.task(name, GraphKernels::clippedAdamwKernel, new KernelContext(),
                        p.f(w), p.f(g), p.params[index].mom1, p.params[index].mom2, p.f(hyper), p.f(clip), n),
                        TornadoBackend.workers(new int[] {n})));
            }
        }

        // ------------------------------------------------------------------ arrays

        /** The float id of a buffer read by a node (parameters, constants, computed temporaries). */
        private int id(Graph.Ref r) {
            Graph.Buffer b = graph.buffers().get(r.buffer());
            return switch (b.kind()) {
                case PARAM -> -1 - 2 * b.param();
                case CONST -> {
                    constants.computeIfAbsent(r.buffer(), k -> constant(b.values()));
                    yield 0;
                }
                case TEMP -> {
                    if (array[r.buffer()] == Integer.MIN_VALUE) {
                        throw new Unsupported("buffer " + r.buffer() + " read before it is written");
                    }
                    yield array[r.buffer()];
                }
            };
        }

        /** Where a constant's values start in floats[0] (shared with an equal constant). */
        private int constant(float[] values) {
            for (int j = 0; j < pooled.size(); j++) {
                if (Arrays.equals(pooled.get(j), values)) {
                    return pooledAt.get(j);
                }
            }
            pooled.add(values.clone());
            pooledAt.add(poolSize);
            poolSize += values.length;
            return poolSize - values.length;
        }

        /** Where r starts in the array {@link #id} gives (a constant's offset in floats[0] added). */
        private int at(Graph.Ref r) {
            Integer base = constants.get(r.buffer());
            return r.offset() + (base == null ? 0 : base);
        }

        /** The float id a node writes its output buffer to (a parameter's gradient buffer where it is one). */
        private int out(Graph.Ref r) {
            int b = r.buffer();
            if (graph.buffers().get(b).kind() != Graph.Kind.TEMP || array[b] != Integer.MIN_VALUE) {
                throw new Unsupported("a node writes buffer " + b + " again");
            }
            array[b] = gradOf[b] >= 0 ? -2 - 2 * gradOf[b] : take(size[b]);
            return array[b];
        }

        /** A free array of n floats, or a new one. */
        private int take(int n) {
            ArrayDeque<Integer> q = free.get(n);
            if (q != null && !q.isEmpty()) {
                return q.pop();
            }
            floats.add(new float[Math.max(n, 1)]);
            return floats.size() - 1;
        }

        private int scratchArray(int n) {
            int id = take(n);
            scratch.add(id);
            return id;
        }

        private void release(int id) {
            if (id >= 0) {
                free.computeIfAbsent(floats.get(id).length, k -> new ArrayDeque<>()).push(id);
            }
        }

        private int ints(Graph.Ints in, String op, int bound, int ignore) {
            if (in.input() != null) {
                bounds.add(new Bound(in.input(), bound, ignore, op));
                return inputs.get(in.input());
            }
            checkRange(in.constant(), op, bound, ignore);
            ints.add(in.constant().clone());
            return ints.size() - 1;
        }

        private static void checkRange(int[] values, String op, int bound, int ignore) {
            for (int v : values) {
                if ((v < 0 || v >= bound) && v != ignore) {
                    throw new Unsupported(op + ": index " + v + " out of range " + bound);
                }
            }
        }

        private int base() {
            return meta.size();
        }

        // ------------------------------------------------------------------ views

        /** A view padded to four dimensions on the left: (offset, strides) over the iteration shape. */
        private record View(int array, int offset, int[] strides) {}

        /** r read over the iteration shape {@code shape} (NumPy broadcasting: missing or size-1 axes repeat). */
        private View view(Graph.Ref r, int[] shape) {
            int array = id(r);
            return view(array, at(r), r.shape(), r.strides(), shape);
        }

        private static View view(int array, int offset, int[] shape, int[] strides, int[] over) {
            if (over.length > 4) {
                throw new Unsupported("a view of rank " + over.length + " (at most 4)");
            }
            int[] s = new int[4];
            for (int d = 0; d < over.length; d++) {
                int xd = d - (over.length - shape.length);
                s[4 - over.length + d] = xd < 0 || shape[xd] == 1 ? 0 : strides[xd];
            }
            return new View(array, offset, s);
        }

        private static int[] pad4(int[] shape) {
            int[] p = {1, 1, 1, 1};
            System.arraycopy(shape, 0, p, 4 - shape.length, shape.length);
            return p;
        }

        private void push(View v) {
            meta.add(v.offset());
            for (int s : v.strides()) {
                meta.add(s);
            }
        }

        /** One elementwise task: out = op(a, b) over {@code shape}. */
        private void elementwise(int op, View out, View a, View b, int[] shape, float value) {
            int n = numel(shape);
            if (n == 0) {
                return;
            }
            int[] d = pad4(shape);
            int base = base();
            meta.addAll(List.of(op, n, d[1], d[2], d[3]));
            push(out);
            push(a);
            push(b);
            int o = out.array();
            int x = a.array();
            int y = b.array();
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::elementwiseKernel, new KernelContext(),
                    p.f(x), p.f(y), p.f(o), p.meta(), base, value), TornadoBackend.workers(new int[] {n})));
        }

        /** Copies the view {@code src} into array {@code dst} at (offset, strides) of shape {@code shape}. */
        private void copy(Graph.Ref src, int dst, int offset, int[] strides, int[] shape) {
            View s = view(src, shape);
            elementwise(GraphKernels.COPY, view(dst, offset, shape, strides, shape), s, s, shape, 0f);
        }

        /** The array holding r contiguous from index 0: r's own, or a scratch copy made by a task. */
        private int contiguousArray(Graph.Ref r) {
            int array = id(r);
            if (at(r) == 0 && contiguous(r)) {
                return array;
            }
            int[] shape = r.shape();
            int dst = scratchArray(numel(shape));
            copy(r, dst, 0, Shapes.contiguousStrides(shape), shape);
            return dst;
        }

        /** The fresh contiguous output of a node as a view over its own shape. */
        private View outView(Graph.Ref r) {
            int o = out(r);
            return view(o, r.offset(), r.shape(), r.strides(), r.shape());
        }

        // ------------------------------------------------------------------ nodes

        private void prim(Graph.Prim p) {
            Object[] a = p.args();
            Graph.Ref out = p.out();
            switch (p.op()) {
                case "copy" -> copy((Graph.Ref) a[0], out(out), out.offset(), out.strides(), out.shape());
                case "unary" -> {
                    UnaryOp op = (UnaryOp) a[0];
                    if (op == UnaryOp.GELU) {
                        throw new Unsupported("unary gelu");
                    }
                    View x = view((Graph.Ref) a[1], out.shape());
                    elementwise(GraphKernels.UNARY + op.ordinal(), outView(out), x, x, out.shape(), 0f);
                }
                case "binary" -> {
                    View x = view((Graph.Ref) a[1], out.shape());
                    View y = view((Graph.Ref) a[2], out.shape());
                    elementwise(GraphKernels.BINARY + ((BinaryOp) a[0]).ordinal(), outView(out), x, y, out.shape(),
                            0f);
                }
                case "where" -> where(out, (Graph.Ref) a[0], (Graph.Ref) a[1], (Graph.Ref) a[2]);
                case "concat" -> concat(out, (Integer) a[0], (Graph.Ref[]) a[1]);
                case "pad" -> pad(out, (Graph.Ref) a[0], ((Graph.Ints) a[1]).constant(), (Float) a[3]);
                case "reduce" -> reduce(out, (ReduceOp) a[0], (Graph.Ref) a[1], ((Graph.Ints) a[2]).constant());
                case "matmul" -> matmul(out, (Graph.Ref) a[0], (Graph.Ref) a[1]);
                case "softmax" -> softmax(out, (Graph.Ref) a[0], (Integer) a[1], (Boolean) a[2]);
                case "causalSoftmax" -> causalSoftmax(out, (Graph.Ref) a[0]);
                case "topKMask" -> topKMask(out, (Graph.Ref) a[0], (Integer) a[1], (Integer) a[2]);
                case "softmaxBackward" -> softmaxBackward(out, (Graph.Ref) a[0], (Graph.Ref) a[1], (Float) a[2]);
                case "rmsNorm" -> rmsNorm(out, (Graph.Ref) a[0], (Graph.Ref) a[1], (Float) a[2]);
                case "layerNorm" -> layerNorm(out, (Graph.Ref) a[0], (Graph.Ref) a[1], (Graph.Ref) a[2], (Float) a[3]);
                case "indexSelect" -> indexSelect(out, (Graph.Ref) a[0], (Integer) a[1], (Graph.Ints) a[2]);
                case "indexAdd" -> indexAdd(out, (Graph.Ref) a[0], (Integer) a[1], (Graph.Ints) a[2],
                        (Graph.Ref) a[3]);
                default -> throw new Unsupported("primitive " + p.op());
            }
        }

        private void where(Graph.Ref out, Graph.Ref c, Graph.Ref a, Graph.Ref b) {
            int[] shape = out.shape();
            int n = numel(shape);
            View o = outView(out);
            if (n == 0) {
                return;
            }
            View vc = view(c, shape);
            View va = view(a, shape);
            View vb = view(b, shape);
            int[] d = pad4(shape);
            int base = base();
            meta.addAll(List.of(0, n, d[1], d[2], d[3]));
            push(o);
            push(vc);
            push(va);
            push(vb);
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::whereKernel, new KernelContext(),
                    p.f(vc.array()), p.f(va.array()), p.f(vb.array()), p.f(o.array()), p.meta(), base),
                    TornadoBackend.workers(new int[] {n})));
        }

        private void concat(Graph.Ref out, int axis, Graph.Ref[] parts) {
            int o = out(out);
            int at = 0;
            for (Graph.Ref part : parts) {
                copy(part, o, out.offset() + at * out.strides()[axis], out.strides(), part.shape());
                at += part.shape()[axis];
            }
        }

        private void pad(Graph.Ref out, Graph.Ref x, int[] before, float value) {
            View o = outView(out);
            elementwise(GraphKernels.FILL, o, o, o, out.shape(), value);
            int offset = out.offset();
            for (int d = 0; d < before.length; d++) {
                offset += before[d] * out.strides()[d];
            }
            copy(x, o.array(), offset, out.strides(), x.shape());
        }

        private void reduce(Graph.Ref out, ReduceOp op, Graph.Ref x, int[] axes) {
            int[] shape = x.shape();
            if (shape.length > 4) {
                throw new Unsupported("reduce of rank " + shape.length);
            }
            boolean[] reduced = new boolean[shape.length];
            if (axes.length == 0) {
                Arrays.fill(reduced, true);
            }
            for (int ax : axes) {
                reduced[ax < 0 ? ax + shape.length : ax] = true;
            }
            int[] kept = new int[shape.length];
            int[] red = new int[shape.length];
            for (int d = 0; d < shape.length; d++) {
                kept[d] = reduced[d] ? 1 : shape[d];
                red[d] = reduced[d] ? shape[d] : 1;
            }
            int o = out(out);
            int n = numel(kept);
            int count = numel(red);
            if (n == 0) {
                return;
            }
            if (count == 0) {
                throw new Unsupported("reduce over an empty axis");
            }
            if (op.ordinal() > 3) {
                throw new Unsupported("reduce " + op);
            }
            int[] k4 = pad4(kept);
            int[] r4 = pad4(red);
            View v = view(x, shape);
            int base = base();
            meta.addAll(List.of(op.ordinal(), n, k4[1], k4[2], k4[3], count, r4[1], r4[2], r4[3]));
            push(v);
            int src = v.array();
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::reduceKernel, new KernelContext(), p.f(src),
                    p.f(o), p.meta(), base), TornadoBackend.workers(new int[] {n})));
        }

        private void matmul(Graph.Ref out, Graph.Ref a, Graph.Ref b) {
            if (a.shape().length < 2 || b.shape().length < 2) {
                throw new Unsupported("matmul of a vector");
            }
            int[] os = out.shape();
            int m = os[os.length - 2];
            int n = os[os.length - 1];
            int k = a.shape()[a.shape().length - 1];
            int[] batch = Arrays.copyOf(os, os.length - 2);
            int z = numel(batch);
            Operand pa = operand(a, batch, m, k);
            Operand pb = operand(b, batch, k, n);
            int c = out(out);
            if (z * m * n == 0) {
                return;
            }
            int sc = m * n;
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::matmulKernel, new KernelContext(),
                    p.f(pa.array()), p.f(pb.array()), p.f(c), m, n, k, pa.batchStride(), pb.batchStride(), sc,
                    pa.row(), pa.col(), pb.row(), pb.col()),
                    TornadoBackend.workers(TornadoBackend.matmulGrid(z, m, n))));
        }

        /** A product operand as the kernel reads it: from index 0, one stride between products. */
        private record Operand(int array, int batchStride, int row, int col) {}

        private Operand operand(Graph.Ref r, int[] batch, int rows, int cols) {
            int rank = r.shape().length;
            int row = r.strides()[rank - 2];
            int col = r.strides()[rank - 1];
            // strides over the output's batch axes (0 where r repeats)
            long stride = -1;
            long span = 1;
            boolean collapsible = true;
            for (int d = batch.length - 1; d >= 0; d--) {
                if (batch[d] == 1) {
                    continue;
                }
                int rd = d - (batch.length - (rank - 2));
                long s = rd < 0 || r.shape()[rd] == 1 ? 0 : r.strides()[rd];
                if (stride < 0) {
                    stride = s;
                } else if (s != stride * span) {
                    collapsible = false;
                }
                span *= batch[d];
            }
            int array = id(r);
            if (collapsible && at(r) == 0) {
                return new Operand(array, (int) Math.max(stride, 0), row, col);
            }
            int[] shape = Arrays.copyOf(batch, batch.length + 2);
            shape[batch.length] = rows;
            shape[batch.length + 1] = cols;
            int dst = scratchArray(numel(shape));
            View s = view(r, shape);
            elementwise(GraphKernels.COPY, view(dst, 0, shape, Shapes.contiguousStrides(shape), shape), s, s, shape,
                    0f);
            return new Operand(dst, rows * cols, cols, 1);
        }

        /** x made contiguous and viewed as [outer, len, inner] around {@code axis}, and the node's output array. */
        private record Lines(int src, int out, int outer, int len, int inner) {
            int size() {
                return outer * len * inner;
            }
        }

        private Lines lines(Graph.Ref out, Graph.Ref x, int axis) {
            int[] shape = x.shape();
            int src = contiguousArray(x);
            return new Lines(src, out(out), numel(Arrays.copyOf(shape, axis)), shape[axis],
                    numel(Arrays.copyOfRange(shape, axis + 1, shape.length)));
        }

        private void softmax(Graph.Ref out, Graph.Ref x, int axis, boolean log) {
            Lines l = lines(out, x, axis);
            int lg = log ? 1 : 0;
            if (l.size() == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::softmaxAxisKernel, new KernelContext(),
                    p.f(l.src()), p.f(l.out()), l.outer(), l.len(), l.inner(), lg),
                    TornadoBackend.workers(new int[] {l.outer() * l.inner()})));
        }

        private void topKMask(Graph.Ref out, Graph.Ref x, int axis, int k) {
            Lines l = lines(out, x, axis);
            if (l.size() == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::topKMaskKernel, new KernelContext(),
                    p.f(l.src()), p.f(l.out()), l.outer(), l.len(), l.inner(), k),
                    TornadoBackend.workers(new int[] {l.size()})));
        }

        private void causalSoftmax(Graph.Ref out, Graph.Ref x) {
            int[] shape = x.shape();
            int src = contiguousArray(x);
            int o = out(out);
            int lq = shape[shape.length - 2];
            int lk = shape[shape.length - 1];
            int rows = lk == 0 ? 0 : numel(shape) / lk;
            if (rows == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::causalSoftmaxRows, new KernelContext(),
                    p.f(src), p.f(o), rows, lq, lk), TornadoBackend.workers(new int[] {rows})));
        }

        private void softmaxBackward(Graph.Ref out, Graph.Ref y, Graph.Ref dy, float scale) {
            int cols = y.shape()[y.shape().length - 1];
            int rows = cols == 0 ? 0 : numel(y.shape()) / cols;
            int sy = contiguousArray(y);
            int sg = contiguousArray(dy);
            int o = out(out);
            if (rows == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::softmaxBackwardRows, new KernelContext(),
                    p.f(sy), p.f(sg), p.f(o), rows, cols, scale), TornadoBackend.workers(new int[] {rows})));
        }

        private void rmsNorm(Graph.Ref out, Graph.Ref x, Graph.Ref w, float eps) {
            if (w == null) {
                throw new Unsupported("rmsNorm without a weight");
            }
            int cols = x.shape()[x.shape().length - 1];
            int rows = cols == 0 ? 0 : numel(x.shape()) / cols;
            int sx = contiguousArray(x);
            int sw = contiguousArray(w);
            int o = out(out);
            if (rows == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::rmsNormRows, new KernelContext(),
                    p.f(sx), p.f(sw), p.f(o), rows, cols, eps), TornadoBackend.workers(new int[] {rows})));
        }

        private void layerNorm(Graph.Ref out, Graph.Ref x, Graph.Ref w, Graph.Ref b, float eps) {
            if (w == null || b == null) {
                throw new Unsupported("layerNorm without a weight and a bias");
            }
            int cols = x.shape()[x.shape().length - 1];
            int rows = cols == 0 ? 0 : numel(x.shape()) / cols;
            int sx = contiguousArray(x);
            int sw = contiguousArray(w);
            int sb = contiguousArray(b);
            int o = out(out);
            if (rows == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::layerNormRows, new KernelContext(),
                    p.f(sx), p.f(sw), p.f(sb), p.f(o), rows, cols, eps), TornadoBackend.workers(new int[] {rows})));
        }

        private void indexSelect(Graph.Ref out, Graph.Ref x, int axis, Graph.Ints index) {
            int[] shape = x.shape();
            int rows = shape[axis];
            int outer = numel(Arrays.copyOf(shape, axis));
            int inner = numel(Arrays.copyOfRange(shape, axis + 1, shape.length));
            int idx = ints(index, "indexSelect", rows, Integer.MIN_VALUE);
            int n = index.input() != null ? graph.inputLengths().get(index.input()) : index.constant().length;
            int sx = contiguousArray(x);
            int o = out(out);
            int total = outer * n * inner;
            if (total == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::indexSelectKernel, new KernelContext(),
                    p.f(sx), p.i(idx), p.f(o), outer, rows, n, inner), TornadoBackend.workers(new int[] {total})));
        }

        private void indexAdd(Graph.Ref out, Graph.Ref x, int axis, Graph.Ints index, Graph.Ref src) {
            int[] shape = x.shape();
            int rows = shape[axis];
            int outer = numel(Arrays.copyOf(shape, axis));
            int inner = numel(Arrays.copyOfRange(shape, axis + 1, shape.length));
            int n = index.input() != null ? graph.inputLengths().get(index.input()) : index.constant().length;
            int offsets;
            int positions;
            if (index.input() != null) {
                bounds.add(new Bound(index.input(), rows, Integer.MIN_VALUE, "indexAdd"));
                Csr known = csrs.stream().filter(c -> c.input().equals(index.input()) && c.rows() == rows).findFirst()
                        .orElse(null);
                if (known == null) {
                    ints.add(new int[rows + 1]);
                    ints.add(new int[n]);
                    known = new Csr(index.input(), rows, ints.size() - 2, ints.size() - 1);
                    csrs.add(known);
                }
                offsets = known.offsets();
                positions = known.positions();
            } else {
                checkRange(index.constant(), "indexAdd", rows, Integer.MIN_VALUE);
                ints.add(new int[rows + 1]);
                ints.add(new int[n]);
                offsets = ints.size() - 2;
                positions = ints.size() - 1;
                GraphPlan.csr(index.constant(), ints.get(offsets), ints.get(positions));
            }
            int sx = contiguousArray(x);
            int ss = contiguousArray(src);
            int o = out(out);
            int total = outer * rows * inner;
            if (total == 0) {
                return;
            }
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::indexAddKernel, new KernelContext(),
                    p.f(sx), p.f(ss), p.i(offsets), p.i(positions), p.f(o), outer, rows, n, inner),
                    TornadoBackend.workers(new int[] {total})));
        }

        /** The targets array of a cross-entropy node (the step's input where it is one). */
        private int targets(Graph.Forward f, int classes, int ignore) {
            Graph.Ints bound = f.argInts().get(0);
            Composites.Targets t = (Composites.Targets) f.args();
            return ints(bound != null ? bound : new Graph.Ints(null, t.targets()), "crossEntropy", classes, ignore);
        }

        private void crossEntropy(Graph.Forward f) {
            if (!f.op().name().equals(Composites.CROSS_ENTROPY.name())) {
                throw new Unsupported("composite " + f.op().name());
            }
            Graph.Ref z = f.inputs()[0];
            int v = z.shape()[z.shape().length - 1];
            int rows = numel(z.shape()) / v;
            int ignore = ((Composites.Targets) f.args()).ignoreIndex();
            int t = targets(f, v, ignore);
            int sz = contiguousArray(z);
            int rowLoss = scratchArray(rows);
            int o = out(f.out());
            int at = f.out().offset();
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::crossEntropyRowsKernel, new KernelContext(),
                    p.f(sz), p.i(t), p.f(rowLoss), rows, v, ignore), TornadoBackend.workers(new int[] {rows})));
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::meanLossKernel, new KernelContext(),
                    p.f(rowLoss), p.i(t), p.f(o), at, rows, ignore), TornadoBackend.workers(new int[] {1})));
        }

        private void crossEntropyBackward(Graph.Backward b, Graph.Forward f) {
            crossEntropyCheck(f);
            Graph.Ref z = f.inputs()[0];
            Graph.Ref dz = b.grads()[0];
            if (dz == null) {
                return;
            }
            if (dz.offset() != 0 || !contiguous(dz) || !Arrays.equals(dz.shape(), z.shape())) {
                throw new Unsupported("crossEntropy backward into a view");
            }
            int v = z.shape()[z.shape().length - 1];
            int rows = numel(z.shape()) / v;
            int ignore = ((Composites.Targets) f.args()).ignoreIndex();
            int t = targets(f, v, ignore);
            int sz = contiguousArray(z);
            int dy = id(b.dy());
            int dyAt = at(b.dy());
            int s = scratchArray(1);
            int o = out(dz);
            tasks.add(new Task((g, name, p) -> g.task(name, GraphKernels::lossScaleKernel, new KernelContext(),
                    p.f(dy), dyAt, p.i(t), p.f(s), rows, ignore), TornadoBackend.workers(new int[] {1})));
            tasks.add(new Task((g, name, p) -> g.task(name, TornadoKernels::crossEntropyGradRowsKernel,
                    new KernelContext(), p.f(sz), p.i(t), p.f(s), p.f(o), rows, v, ignore),
                    TornadoBackend.workers(new int[] {rows})));
        }

        private static void crossEntropyCheck(Graph.Forward f) {
            if (!f.op().name().equals(Composites.CROSS_ENTROPY.name())) {
                throw new Unsupported("composite " + f.op().name() + " backward");
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** The floats from the start of r's buffer to one past r's last element. */
    static int span(Graph.Ref r) {
        long end = r.offset();
        for (int d = 0; d < r.shape().length; d++) {
            if (r.shape()[d] == 0) {
                return r.offset();
            }
            end += (long) (r.shape()[d] - 1) * r.strides()[d];
        }
        return (int) end + 1;
    }

    static boolean contiguous(Graph.Ref r) {
        int expect = 1;
        for (int d = r.shape().length - 1; d >= 0; d--) {
            if (r.shape()[d] != 1 && r.strides()[d] != expect) {
                return false;
            }
            expect *= r.shape()[d];
        }
        return true;
    }

    /** Every view a node reads or writes. */
    static List<Graph.Ref> refs(Graph.Node n) {
        List<Graph.Ref> out = new ArrayList<>();
        switch (n) {
            case Graph.Prim p -> {
                for (Object a : p.args()) {
                    if (a instanceof Graph.Ref r) {
                        out.add(r);
                    } else if (a instanceof Graph.Ref[] rs) {
                        out.addAll(Arrays.asList(rs));
                    }
                }
                if (p.out() != null) {
                    out.add(p.out());
                }
            }
            case Graph.Forward f -> {
                out.addAll(Arrays.asList(f.inputs()));
                out.add(f.out());
            }
            case Graph.Backward b -> {
                out.add(b.dy());
                for (Graph.Ref r : b.grads()) {
                    if (r != null) {
                        out.add(r);
                    }
                }
            }
        }
        return out;
    }

    /** Fills {@code offsets} [rows + 1] and {@code positions} [n] with the positions i of each value of index. */
    static void csr(int[] index, int[] offsets, int[] positions) {
        Arrays.fill(offsets, 0);
        for (int v : index) {
            offsets[v + 1]++;
        }
        for (int j = 0; j + 1 < offsets.length; j++) {
            offsets[j + 1] += offsets[j];
        }
        int[] next = Arrays.copyOf(offsets, offsets.length - 1);
        for (int i = 0; i < index.length; i++) {
            positions[next[index[i]]++] = i;
        }
    }

    // ------------------------------------------------------------------ the plan

    final Lowering lowering;
    final int computeGraphs;
    /** The compute graphs of the step itself; those after it are the update's (run when the host says so). */
    final int stepGraphs;

    /** Builds the plan of a lowered graph for the parameters (their storages, in the graph's order). */
    GraphPlan(String id, Lowering lowering, Storage[] weights) {
        super(id, lowering.floats.toArray(float[][]::new), lowering.ints.toArray(int[][]::new), weights);
        this.lowering = lowering;
        List<TaskGraph> compute = new ArrayList<>();
        List<int[]> uploads = new ArrayList<>();
        for (int i : lowering.inputs.values()) {
            uploads.add(ints[i]);
        }
        for (Csr c : lowering.csrs) {
            uploads.add(ints[c.offsets()]);
            uploads.add(ints[c.positions()]);
        }
        List<Object> in = new ArrayList<>(uploads);
        if (lowering.hyper >= 0) {
            in.add(extra[lowering.hyper]); // the update's hyper-parameters, set per run
        }
        compute.add(uploading("in", in.toArray()));
        List<Task> tasks = lowering.tasks;
        int updateFrom = lowering.updateFrom >= 0 ? lowering.updateFrom : tasks.size();
        addGraphs(compute, tasks, 0, updateFrom);
        stepGraphs = compute.size();
        addGraphs(compute, tasks, updateFrom, tasks.size());
        computeGraphs = compute.size();
        build(compute.toArray(TaskGraph[]::new));
    }

    /** Tasks [from, to) in graphs of {@link #TASKS_PER_GRAPH}, appended to {@code compute}. */
    private void addGraphs(List<TaskGraph> compute, List<Task> tasks, int from, int to) {
        for (int start = from; start < to; start += TASKS_PER_GRAPH) {
            String name = "c" + compute.size();
            TaskGraph g = graph(name);
            for (int j = start; j < Math.min(to, start + TASKS_PER_GRAPH); j++) {
                String task = "t" + j;
                g = tasks.get(j).add().add(g, task, this);
                grids.addWorkerGrid(id + name + "." + task, tasks.get(j).grid());
            }
            compute.add(g);
        }
    }

    /** The float array of id (see {@link Lowering}). */
    float[] f(int id) {
        if (id >= 0) {
            return extra[id];
        }
        int i = (-id - 1) / 2;
        return (-id - 1) % 2 == 0 ? params[i].w : params[i].g;
    }

    /** The integer array of id. */
    int[] i(int id) {
        return ints[id];
    }

    /** The kernels' shared sizes and strides. */
    int[] meta() {
        return ints[0];
    }

    /** Integers copied in per run: the inputs and the index lists. */
    long uploadedInts() {
        long n = 0;
        for (int i : lowering.inputs.values()) {
            n += ints[i].length;
        }
        for (Csr c : lowering.csrs) {
            n += ints[c.offsets()].length + ints[c.positions()].length;
        }
        return n;
    }

    /** Checks and copies the inputs into the plan's input arrays and fills the index lists. */
    void setInputs(Map<String, int[]> in) {
        if (!in.keySet().equals(lowering.inputs.keySet())) {
            throw new IllegalArgumentException("compiled step: inputs " + in.keySet() + " differ from the traced "
                    + lowering.inputs.keySet());
        }
        for (Map.Entry<String, Integer> e : lowering.inputs.entrySet()) {
            int[] dst = ints[e.getValue()];
            int[] src = in.get(e.getKey());
            if (src.length != dst.length) {
                throw new IllegalArgumentException("compiled step: input '" + e.getKey() + "' has " + src.length
                        + " elements, traced with " + dst.length);
            }
        }
        for (Bound b : lowering.bounds) {
            int[] src = in.get(b.input());
            for (int j = 0; j < src.length; j++) {
                if ((src[j] < 0 || src[j] >= b.bound()) && src[j] != b.ignore()) {
                    throw new IndexOutOfBoundsException(b.op() + ": input '" + b.input() + "' holds " + src[j]
                            + " at " + j + ", out of range [0, " + b.bound() + ")");
                }
            }
        }
        for (Map.Entry<String, Integer> e : lowering.inputs.entrySet()) {
            int[] src = in.get(e.getKey());
            System.arraycopy(src, 0, ints[e.getValue()], 0, src.length);
        }
        for (Csr c : lowering.csrs) {
            csr(in.get(c.input()), ints[c.offsets()], ints[c.positions()]);
        }
    }

    /** Runs every compute graph of the step (inputs first). */
    void runStep() {
        for (int j = 0; j < stepGraphs; j++) {
            run(compute(j));
        }
    }

    /** Runs the update's graphs (clipping and AdamW) after {@link #runStep}. */
    void runUpdate() {
        for (int j = stepGraphs; j < computeGraphs; j++) {
            run(compute(j));
        }
    }

    /** The values of the tapped output {@code name} of the last run (its array copied out), a tensor of their own. */
    Tensor tap(String name) {
        TapOut t = lowering.taps.get(name);
        float[] a = f(t.array());
        if (!pull(a)) {
            throw new IllegalStateException("compiled step: " + name + " was read before a run");
        }
        return Tensor.wrap(Arrays.copyOf(a, numel(t.shape())), t.shape());
    }

    /** Sets the hyper-parameters of the update a run ends with (see {@link TornadoKernels#adamwKernel}). */
    void setHyper(float[] h) {
        System.arraycopy(h, 0, extra[lowering.hyper], 0, h.length);
    }

    /** The clip of the last run, {norm, coef}, copied out. */
    float[] clip() {
        float[] a = f(lowering.clip);
        if (!pull(a)) {
            throw new IllegalStateException("compiled step: the norm was read before a run");
        }
        return a.clone();
    }

    /** The loss of the last run (its array copied out). */
    float loss() {
        float[] a = f(lowering.loss);
        if (!pull(a)) {
            throw new IllegalStateException("compiled step: the loss was read before a run");
        }
        return a[lowering.lossAt];
    }
}
