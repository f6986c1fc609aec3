package dev.lory4j.autograd.capture;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.autograd.optim.GradClip;
import dev.lory4j.autograd.optim.Optimizer;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Loss-and-gradients steps by key (e.g. the batch shape): the first step of a key is traced (an eager step that
 * records itself), every later one replays that graph; where the current backend has a {@link GraphCompiler}, the
 * trace runs on the CPU and every step of the key, the first included, runs compiled on the device. The gradients end
 * up in the parameters either way, as after {@code loss.backward()}, and each run's tapped values
 * ({@link Capture#tap}) go to their sinks.
 */
public final class CapturedSteps {
    private static final List<GraphCompiler> COMPILERS = ServiceLoader.load(GraphCompiler.class).stream()
            .map(ServiceLoader.Provider::get).toList();

    /** A key's traced graph and, where the backend compiled it, the compiled step (else null: replays). */
    private record Entry(Graph graph, GraphCompiler.Step compiled) {}

    private final Map<String, Entry> steps = new HashMap<>();

    /** The first compiler on the module path that compiles for {@code backend}, or null. */
    public static GraphCompiler compilerFor(Backend backend) {
        for (GraphCompiler c : COMPILERS) {
            if (c.compiles(backend)) {
                return c;
            }
        }
        return null;
    }

    /**
     * Runs one step of {@code key} on these inputs and returns its loss, the parameters' gradients set (they must be
     * clear before); {@code onTrace} hears of each new graph.
     */
    public float run(String key, List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss,
                     Consumer<Graph> onTrace) {
        return runAndStep(key, params, inputs, loss, onTrace, null, 0).loss();
    }

    /**
     * The graph of {@code key}, traced (and compiled where the backend compiles) if new; null when the trace that made
     * it was this step itself (a replay's first step: its outputs are the graph's traced ones, already delivered).
     */
    private Entry entry(String key, List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss,
                        Consumer<Graph> onTrace) {
        Entry entry = steps.get(key);
        if (entry != null) {
            return entry;
        }
        Backend backend = Backends.current();
        GraphCompiler compiler = compilerFor(backend);
        GraphCompiler.Step compiled = null;
        Graph graph = null;
        if (compiler != null) {
            graph = Capture.lossAndGradientsFor(compiler, params, inputs, loss);
            compiled = compiler.compile(backend, graph, params);
            for (Var p : params) { // the device runs this step too (as every later one), or the replay traces again
                p.setGrad(null);
            }
            graph = compiled == null ? null : graph;
        }
        if (graph == null) {
            graph = Capture.lossAndGradients(params, inputs, loss);
        }
        steps.put(key, new Entry(graph, compiled));
        onTrace.accept(graph);
        if (compiled == null) { // the trace was the step
            graph.deliverTaps(graph.traced());
            graph.applyAssignments(graph.traced(), params);
            return null;
        }
        return steps.get(key);
    }

    /** A training step's loss and gradient norm before clipping (NaN when the loss was not finite). */
    public record StepResult(float loss, double norm) {}

    /**
     * {@link #run}, then gradient clipping to {@code maxNorm} and the optimizer's step, both only when the loss and the
     * norm are finite (the caller reports those that are not; nothing was updated). Where the step of {@code key}
     * runs compiled and the optimizer is AdamW, the device clips and steps inside the compiled step (one run: the
     * step's inputs and hyper-parameters in, its loss and norm out); else as {@link GradClip} and
     * {@link Optimizer#step} would. A null optimizer: no clipping, no step (the norm is NaN).
     */
    public StepResult runAndStep(String key, List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss,
                                 Consumer<Graph> onTrace, Optimizer optimizer, double maxNorm) {
        Entry entry = entry(key, params, inputs, loss, onTrace);
        Map<String, Tensor> out;
        if (entry == null) {
            out = steps.get(key).graph().traced();
        } else {
            AdamW.ClippedStep update = entry.compiled() != null && optimizer instanceof AdamW adam
                    ? adam.nextStep(params, maxNorm) : null;
            out = update == null ? null : entry.compiled().runAndUpdate(inputs, update);
            if (out != null) { // clipped and stepped on the device (when finite)
                setGradients(params, out);
                entry.graph().deliverTaps(out);
                float l = out.get("loss").item();
                double norm = Float.isFinite(l) ? out.get("norm").item() : Double.NaN;
                if (Double.isFinite(norm)) {
                    ((AdamW) optimizer).stepTaken();
                }
                return new StepResult(l, norm);
            }
            out = entry.compiled() != null ? entry.compiled().run(inputs) : entry.graph().replay(params, inputs);
            entry.graph().deliverTaps(out);
            if (entry.compiled() == null) {
                entry.graph().applyAssignments(out, params);
            }
        }
        setGradients(params, out);
        float l = out.get("loss").item();
        if (optimizer == null || !Float.isFinite(l)) {
            return new StepResult(l, Double.NaN);
        }
        double norm = GradClip.clipGradNorm(params, maxNorm);
        if (Double.isFinite(norm)) {
            optimizer.step();
        }
        return new StepResult(l, norm);
    }

    private static void setGradients(List<Var> params, Map<String, Tensor> out) {
        for (int i = 0; i < params.size(); i++) {
            params.get(i).setGrad(out.get("grad " + i));
        }
    }

    /**
     * The loss of an evaluation pass (no gradients) of {@code key} compiled by the current backend's
     * {@link GraphCompiler}, or null where there is none or it declined (the caller then runs the pass eagerly). The
     * first pass of a key is traced on the CPU; every pass runs compiled.
     */
    public Float compiledLoss(String key, List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss) {
        Entry entry = steps.get(key);
        if (entry == null) {
            Backend backend = Backends.current();
            GraphCompiler compiler = compilerFor(backend);
            if (compiler == null) {
                return null;
            }
            Graph graph = Capture.lossFor(compiler, params, inputs, loss);
            entry = new Entry(graph, compiler.compile(backend, graph, params));
            steps.put(key, entry);
        }
        if (entry.compiled() == null) {
            return null;
        }
        Map<String, Tensor> out = entry.compiled().run(inputs);
        entry.graph().deliverTaps(out);
        return out.get("loss").item();
    }

    /**
     * Runs {@code pass} of {@code key} (a step without a loss: a generation step, whose outputs are what it taps and
     * the states it assigns, {@link Capture#assign}) as a graph: compiled by the current backend's
     * {@link GraphCompiler} (traced on the CPU first), else traced (the first run) and replayed. The taps reach their
     * sinks and the states their new values either way. {@code params} are the parameters and the states.
     */
    public void pass(String key, List<Var> params, Map<String, int[]> inputs, Runnable pass) {
        Entry entry = steps.get(key);
        if (entry == null) {
            Backend backend = Backends.current();
            GraphCompiler compiler = compilerFor(backend);
            GraphCompiler.Step compiled = null;
            if (compiler != null) {
                Graph graph = Capture.passFor(compiler, params, inputs, pass);
                compiled = compiler.compile(backend, graph, params);
                entry = new Entry(graph, compiled);
            }
            if (compiled == null) { // the trace is the pass's first run
                Graph graph = Capture.pass(params, inputs, pass);
                steps.put(key, new Entry(graph, null));
                graph.deliverTaps(graph.traced());
                graph.applyAssignments(graph.traced(), params);
                return;
            }
            steps.put(key, entry);
        }
        Map<String, Tensor> out = entry.compiled() != null ? entry.compiled().run(inputs)
                : entry.graph().replay(params, inputs);
        entry.graph().deliverTaps(out);
        if (entry.compiled() == null) {
            entry.graph().applyAssignments(out, params);
        }
    }

    /** Whether the step of {@code key} runs compiled by the backend's {@link GraphCompiler}. */
    public boolean compiled(String key) {
        Entry e = steps.get(key);
        return e != null && e.compiled() != null;
    }

    /** Forgets every graph (the model or its parameters changed). */
    public void clear() {
        steps.clear();
    }
}
