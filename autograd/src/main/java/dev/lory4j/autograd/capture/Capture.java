package dev.lory4j.autograd.capture;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.CallListener;
import dev.lory4j.autograd.composite.Composite;
import dev.lory4j.autograd.composite.Kernels;
import dev.lory4j.autograd.composite.Site;
import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Traces a step into a {@link Graph}: the step runs once, eagerly, on the current backend while every primitive
 * call and every composite-kernel call is recorded (the calls a kernel makes inside are one node). Like JAX's
 * tracing or {@code torch.jit.trace}, the trace follows the values of that run: host code that reads tensor values
 * and decides something (a routing list built on the host) is not captured and must not be part of the step; make the
 * decision a tensor op ({@code Tensor.topKMask}), hand values to the host with {@link #tap} and carry state between
 * runs with {@link #assign}. Integer inputs (tokens, targets) are bound by identity: the step must pass the very
 * arrays it was given to the ops (copies would be frozen as constants).
 */
public final class Capture {
    /** The graph being traced on this thread, or null. */
    private static final ThreadLocal<Graph.Builder> TRACING = new ThreadLocal<>();

    private Capture() {}

    /**
     * Hands {@code value} to {@code sink}: at once when no step is being traced on this thread; while one is, the value
     * becomes an output of the graph (a device copies it out) and {@code sink} gets each run's value after the run
     * ({@link Graph#deliverTaps}). How a routing trace reads the weights a layer used without leaving the graph.
     */
    public static void tap(String name, Tensor value, java.util.function.Consumer<Tensor> sink) {
        Graph.Builder b = TRACING.get();
        if (b == null) {
            sink.accept(value);
        } else {
            b.tap(name, value, sink);
        }
    }

    /**
     * Sets {@code state}, a tensor a step carries from run to run (a KV cache), to {@code value} in place: at once when
     * no step is being traced on this thread; while one is, {@code value} is an output of the graph ({@code "assign
     * i"} for the state's parameter index i: the state must be one of the traced step's parameters, whole) that each
     * run writes into the state after it ran. Code after the call must use {@code value}, not read the state again.
     */
    public static void assign(Tensor state, Tensor value) {
        if (!java.util.Arrays.equals(state.shape(), value.shape())) {
            throw new IllegalArgumentException("assign: state " + dev.lory4j.tensor.Shapes.str(state.shape())
                    + " and value " + dev.lory4j.tensor.Shapes.str(value.shape()) + " differ in shape");
        }
        Graph.Builder b = TRACING.get();
        if (b == null) {
            state.copyFrom(value);
        } else {
            b.assign(state, value);
        }
    }

    /**
     * Traces {@code pass} (no loss, no gradients, under {@link NoGrad}) for {@code compiler} on the CPU, as
     * {@link #lossAndGradientsFor}: its outputs are what it taps ({@link #tap}) and the states it assigns
     * ({@link #assign}); a generation step.
     */
    public static Graph passFor(GraphCompiler compiler, List<Var> params, Map<String, int[]> inputs, Runnable pass) {
        Backend cpu = new dev.lory4j.tensor.CpuBackend();
        try (NoGrad ng = NoGrad.enter()) {
            return Kernels.only(compiler.composites(), () -> trace(params, inputs, () -> {
                pass.run();
                return null;
            }, false, cpu));
        }
    }

    /** {@link #passFor} on the current backend, for a replay. */
    public static Graph pass(List<Var> params, Map<String, int[]> inputs, Runnable pass) {
        try (NoGrad ng = NoGrad.enter()) {
            return trace(params, inputs, () -> {
                pass.run();
                return null;
            }, false, Backends.current());
        }
    }

    /**
     * Traces {@code loss} and its backward pass: the loss (output {@code "loss"}) and the gradient of every parameter
     * (outputs {@code "grad 0"}, {@code "grad 1"}, ... in the order of {@code params}). The parameters' gradients must
     * be clear before; afterwards they hold this run's (the trace is an eager step).
     */
    public static Graph lossAndGradients(List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss) {
        return trace(params, inputs, loss, true, Backends.current());
    }

    /**
     * Traces {@code loss} and its backward pass for {@code compiler}: the eager run happens on the CPU, with only the
     * kernels of the composites the compiler lowers itself (every other composite is traced as its reference), so
     * the graph holds primitives and those composites. The current backend is unchanged afterwards.
     */
    public static Graph lossAndGradientsFor(GraphCompiler compiler, List<Var> params, Map<String, int[]> inputs,
                                            Supplier<Var> loss) {
        Backend cpu = new dev.lory4j.tensor.CpuBackend();
        return Kernels.only(compiler.composites(), () -> trace(params, inputs, loss, true, cpu));
    }

    /**
     * Traces {@code loss} without a backward pass, under {@link NoGrad} (an evaluation pass): one output,
     * {@code "loss"}.
     */
    public static Graph loss(List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss) {
        try (NoGrad ng = NoGrad.enter()) {
            return trace(params, inputs, loss, false, Backends.current());
        }
    }

    /** {@link #loss} traced for {@code compiler} (on the CPU, as {@link #lossAndGradientsFor}). */
    public static Graph lossFor(GraphCompiler compiler, List<Var> params, Map<String, int[]> inputs,
                                Supplier<Var> loss) {
        Backend cpu = new dev.lory4j.tensor.CpuBackend();
        try (NoGrad ng = NoGrad.enter()) {
            return Kernels.only(compiler.composites(), () -> trace(params, inputs, loss, false, cpu));
        }
    }

    private static Graph trace(List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss, boolean gradients,
                               Backend target) {
        for (int i = 0; gradients && i < params.size(); i++) {
            if (params.get(i).grad() != null) {
                throw new IllegalStateException("capture: parameter " + i + " " + dev.lory4j.tensor.Shapes.str(
                        params.get(i).shape()) + " already has a gradient; clear the gradients first");
            }
        }
        Graph.Builder builder = new Graph.Builder(params, inputs);
        Backend previous = Backends.current();
        Recorder recorder = new Recorder(target, builder);
        Kernels.alias(recorder, target);
        Backends.use(recorder);
        Composite.listen(recorder);
        TRACING.set(builder);
        try {
            Var l = loss.get();
            Map<String, Graph.Ref> outputs = new LinkedHashMap<>();
            Map<String, Tensor> traced = new LinkedHashMap<>();
            if (gradients) {
                l.backward();
            }
            if (l != null) { // a pass has no loss: its outputs are its taps and assignments
                outputs.put("loss", builder.ref(l.data()));
                traced.put("loss", l.data());
            }
            for (int i = 0; gradients && i < params.size(); i++) {
                Tensor g = params.get(i).grad();
                if (g == null) {
                    throw new IllegalStateException("capture: parameter " + i + " got no gradient from the loss");
                }
                outputs.put("grad " + i, builder.ref(g));
                traced.put("grad " + i, g);
            }
            return builder.build(outputs, traced);
        } finally {
            TRACING.remove();
            Composite.listen(null);
            Backends.use(previous);
            Kernels.alias(recorder, null);
        }
    }

    /** Records each primitive it forwards (not those called inside another primitive or a kernel). */
    private static final class Recorder extends DelegatingBackend implements CallListener {
        private final Graph.Builder graph;
        private int depth;

        Recorder(Backend target, Graph.Builder graph) {
            super(target, "capture(" + target.name() + ")");
            this.graph = graph;
        }

        private Tensor rec(String op, Supplier<Tensor> call, Object... args) {
            depth++;
            Tensor out;
            try {
                out = call.get();
            } finally {
                depth--;
            }
            if (depth == 0) {
                graph.prim(op, out, args);
            }
            return out;
        }

        private void unsupported(String op) {
            if (depth == 0) {
                throw new IllegalStateException("capture: " + op + " is not captured yet (clipping and optimizer "
                        + "updates run outside a captured step)");
            }
        }

        @Override
        public AutoCloseable opaque() {
            depth++;
            return () -> depth--;
        }

        @Override
        public int forward(Composite<?> op, Object args, Site site, Tensor[] inputs, Tensor output, boolean recording) {
            return depth == 0 ? graph.forward(op, args, site, inputs, output, recording) : -1;
        }

        @Override
        public void backward(int forward, Tensor dy, boolean[] needs, Tensor[] grads) {
            if (depth == 0) {
                if (forward < 0) {
                    throw new IllegalStateException("capture: a kernel's backward pass whose forward pass ran inside "
                            + "another kernel");
                }
                graph.backward(forward, dy, needs, grads);
            }
        }

        @Override
        public Tensor copy(Tensor x) {
            return rec("copy", () -> super.copy(x), x);
        }

        @Override
        public Tensor concat(int axis, Tensor[] parts) {
            return rec("concat", () -> super.concat(axis, parts), axis, parts);
        }

        @Override
        public Tensor pad(Tensor x, int[] before, int[] after, float value) {
            return rec("pad", () -> super.pad(x, before, after, value), x, before, after, value);
        }

        @Override
        public Tensor indexSelect(Tensor x, int axis, int[] index) {
            return rec("indexSelect", () -> super.indexSelect(x, axis, index), x, axis, index);
        }

        @Override
        public Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src) {
            return rec("indexAdd", () -> super.indexAdd(x, axis, index, src), x, axis, index, src);
        }

        @Override
        public Tensor gather(Tensor x, int axis, int[] index, int[] indexShape) {
            return rec("gather", () -> super.gather(x, axis, index, indexShape), x, axis, index, indexShape);
        }

        @Override
        public Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src) {
            return rec("scatterAdd", () -> super.scatterAdd(x, axis, index, indexShape, src), x, axis, index,
                    indexShape, src);
        }

        @Override
        public Tensor where(Tensor cond, Tensor a, Tensor b) {
            return rec("where", () -> super.where(cond, a, b), cond, a, b);
        }

        @Override
        public Tensor unary(UnaryOp op, Tensor x) {
            return rec("unary", () -> super.unary(op, x), op, x);
        }

        @Override
        public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
            return rec("binary", () -> super.binary(op, a, b), op, a, b);
        }

        @Override
        public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
            return rec("reduce", () -> super.reduce(op, x, axes, keepDim), op, x, axes, keepDim);
        }

        @Override
        public Tensor matmul(Tensor a, Tensor b) {
            return rec("matmul", () -> super.matmul(a, b), a, b);
        }

        @Override
        public Tensor softmax(Tensor x, int axis, boolean log) {
            return rec("softmax", () -> super.softmax(x, axis, log), x, axis, log);
        }

        @Override
        public Tensor topKMask(Tensor x, int axis, int k) {
            return rec("topKMask", () -> super.topKMask(x, axis, k), x, axis, k);
        }

        @Override
        public Tensor causalSoftmax(Tensor x) {
            return rec("causalSoftmax", () -> super.causalSoftmax(x), x);
        }

        @Override
        public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
            return rec("softmaxBackward", () -> super.softmaxBackward(y, g, scale), y, g, scale);
        }

        @Override
        public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
            return rec("rmsNorm", () -> super.rmsNorm(x, weight, eps), x, weight, eps);
        }

        @Override
        public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
            return rec("layerNorm", () -> super.layerNorm(x, weight, bias, eps), x, weight, bias, eps);
        }

        @Override
        public double sumOfSquares(List<Tensor> ts) {
            unsupported("sumOfSquares");
            return super.sumOfSquares(ts);
        }

        @Override
        public List<Tensor> scaled(List<Tensor> ts, float s) {
            unsupported("scaled");
            return super.scaled(ts, s);
        }

        @Override
        public void adamw(List<Tensor> ps, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float lr, float beta1,
                          float beta2, float eps, float weightDecay, float bc1, float bc2) {
            unsupported("adamw");
            super.adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
        }
    }
}
