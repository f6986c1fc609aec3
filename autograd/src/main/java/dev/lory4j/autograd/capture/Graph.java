package dev.lory4j.autograd.capture;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Composite;
import dev.lory4j.autograd.composite.Site;
import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Storage;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A traced step ({@link Capture}): the primitive calls and the composite-kernel calls it made, in order, over
 * numbered buffers. A buffer is a parameter (read live at every replay), a constant (its values at capture time:
 * scalars, RoPE tables, masks that depend only on the shapes) or a temporary (the output of a node). Inputs are the
 * named integer arrays (tokens, targets) the step was traced with; the outputs are named views of buffers.
 * {@link #replay} runs the nodes again on the current backend with new inputs.
 */
public final class Graph {
    /** What a buffer holds. */
    public enum Kind {
        /** A model parameter (the index into the parameter list). */
        PARAM,
        /** Values fixed at capture time. */
        CONST,
        /** The output of a node. */
        TEMP
    }

    /** A buffer: its kind, the parameter index (PARAM) or the values (CONST). */
    public record Buffer(Kind kind, int param, float[] values) {}

    /** A strided view of a buffer. */
    public record Ref(int buffer, int offset, int[] shape, int[] strides) {}

    /** An integer-array argument: a named input of the step, or a constant. */
    public record Ints(String input, int[] constant) {}

    /** One recorded call. */
    public sealed interface Node permits Prim, Forward, Backward {}

    /** A primitive of the Backend SPI: its name and arguments (Refs, Ref arrays, Ints or plain values). */
    public record Prim(String op, Object[] args, Ref out) implements Node {}

    /** A composite op's kernel, forward: args with integer arrays as {@link Ints} where they are inputs. */
    public record Forward(Composite<?> op, Object args, Map<Integer, Ints> argInts, Site site, Ref[] inputs, Ref out,
                          boolean recording) implements Node {}

    /** The backward pass of the kernel call at node {@code forward}. */
    public record Backward(int forward, Ref dy, boolean[] needs, Ref[] grads) implements Node {}

    /** A value the step hands to the host ({@link Capture#tap}): the output of that name goes to {@code sink}. */
    public record Tap(String output, java.util.function.Consumer<Tensor> sink) {}

    private final List<Buffer> buffers;
    private final List<Node> nodes;
    private final Map<String, Ref> outputs;
    private final Map<String, Integer> inputLengths;
    private final Storage[] constants;
    private final Map<String, Tensor> traced;
    private final List<Tap> taps;
    /** After node k, the temporaries no later node reads (given back to {@link #pool} for reuse). */
    private final int[][] deadAfter;
    private final Storage.Pool pool = new Storage.Pool();

    Graph(List<Buffer> buffers, List<Node> nodes, Map<String, Ref> outputs, Map<String, Integer> inputLengths,
          Map<String, Tensor> traced, List<Tap> taps) {
        this.traced = new LinkedHashMap<>(traced);
        this.taps = List.copyOf(taps);
        this.buffers = List.copyOf(buffers);
        this.nodes = List.copyOf(nodes);
        this.outputs = new LinkedHashMap<>(outputs);
        this.inputLengths = new LinkedHashMap<>(inputLengths);
        this.deadAfter = deadAfter(this.buffers, this.nodes, this.outputs);
        this.constants = new Storage[buffers.size()];
        for (int i = 0; i < buffers.size(); i++) {
            if (buffers.get(i).kind() == Kind.CONST) {
                constants[i] = Tensor.wrap(buffers.get(i).values(), buffers.get(i).values().length).storage();
            }
        }
    }

    /**
     * For each node, the temporaries whose last reader it is: a kernel's inputs and output stay alive until its
     * backward node (the kernel may keep them in its saved state), and outputs are never given back.
     */
    private static int[][] deadAfter(List<Buffer> buffers, List<Node> nodes, Map<String, Ref> outputs) {
        int[] last = new int[buffers.size()];
        Arrays.fill(last, -1);
        for (int k = 0; k < nodes.size(); k++) {
            for (Ref r : refs(nodes.get(k))) {
                last[r.buffer()] = Math.max(last[r.buffer()], k);
            }
            if (nodes.get(k) instanceof Backward b) {
                for (Ref r : refs(nodes.get(b.forward()))) {
                    last[r.buffer()] = Math.max(last[r.buffer()], k);
                }
            }
        }
        for (Ref r : outputs.values()) {
            last[r.buffer()] = Integer.MAX_VALUE;
        }
        List<List<Integer>> dead = new ArrayList<>();
        for (int k = 0; k < nodes.size(); k++) {
            dead.add(new ArrayList<>());
        }
        for (int i = 0; i < last.length; i++) {
            if (buffers.get(i).kind() == Kind.TEMP && last[i] >= 0 && last[i] < nodes.size()) {
                dead.get(last[i]).add(i);
            }
        }
        return dead.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
    }

    /** Every buffer view a node reads or writes. */
    private static List<Ref> refs(Node n) {
        List<Ref> out = new ArrayList<>();
        switch (n) {
            case Prim p -> {
                for (Object a : p.args()) {
                    if (a instanceof Ref r) {
                        out.add(r);
                    } else if (a instanceof Ref[] rs) {
                        out.addAll(Arrays.asList(rs));
                    }
                }
                if (p.out() != null) {
                    out.add(p.out());
                }
            }
            case Forward f -> {
                out.addAll(Arrays.asList(f.inputs()));
                out.add(f.out());
            }
            case Backward b -> {
                out.add(b.dy());
                for (Ref r : b.grads()) {
                    if (r != null) {
                        out.add(r);
                    }
                }
            }
        }
        return out;
    }

    /** How many allocations of all replays so far took an array a replay had given back. */
    public long reusedAllocations() {
        return pool.reused();
    }

    /** The nodes in execution order. */
    public List<Node> nodes() {
        return nodes;
    }

    /** The buffers. */
    public List<Buffer> buffers() {
        return buffers;
    }

    /** The named integer inputs and their lengths, in the order traced. */
    public Map<String, Integer> inputLengths() {
        return java.util.Collections.unmodifiableMap(inputLengths);
    }

    /** The named outputs. */
    public Map<String, Ref> outputs() {
        return Map.copyOf(outputs);
    }

    /** The values handed to the host, in the order the step tapped them (their outputs are named "tap ..."). */
    public List<Tap> taps() {
        return taps;
    }

    /** Hands each tap's value in {@code outputs} (a run's outputs) to its sink, in order. */
    public void deliverTaps(Map<String, Tensor> outputs) {
        for (Tap t : taps) {
            t.sink().accept(outputs.get(t.output()));
        }
    }

    /**
     * Writes each state the step assigned ({@link Capture#assign}: outputs {@code "assign i"}) from a run's outputs
     * into parameter i, in place (a replay's; a compiled step writes its states on its device itself).
     */
    public void applyAssignments(Map<String, Tensor> outputs, List<Var> params) {
        outputs.forEach((name, value) -> {
            if (name.startsWith("assign ")) {
                params.get(Integer.parseInt(name.substring(7))).data().copyFrom(value);
            }
        });
    }

    /** The outputs of the eager run that made this graph (the trace is a step of its own). */
    public Map<String, Tensor> traced() {
        return java.util.Collections.unmodifiableMap(traced);
    }

    /** How many nodes of each kind and op, e.g. {@code matmul=84, composite mergedSwiGlu=4}, for reports. */
    public Map<String, Integer> opCounts() {
        Map<String, Integer> counts = new java.util.TreeMap<>();
        for (Node n : nodes) {
            String key = switch (n) {
                case Prim p -> p.op();
                case Forward f -> "composite " + f.op().name();
                case Backward b -> "composite " + ((Forward) nodes.get(b.forward())).op().name() + " backward";
            };
            counts.merge(key, 1, Integer::sum);
        }
        return counts;
    }

    /**
     * Runs the step again on the current backend with the parameters' current values and these inputs (the same
     * names and lengths as when traced); returns the named outputs.
     */
    public Map<String, Tensor> replay(List<Var> params, Map<String, int[]> inputs) {
        if (!inputs.keySet().equals(inputLengths.keySet())) {
            throw new IllegalArgumentException("replay: inputs " + inputs.keySet() + " differ from the traced "
                    + inputLengths.keySet());
        }
        inputLengths.forEach((name, len) -> {
            if (inputs.get(name).length != len) {
                throw new IllegalArgumentException("replay: input '" + name + "' has " + inputs.get(name).length
                        + " elements, traced with " + len);
            }
        });
        Storage[] bufs = new Storage[buffers.size()];
        for (int i = 0; i < bufs.length; i++) {
            Buffer b = buffers.get(i);
            if (b.kind() == Kind.PARAM) {
                if (b.param() >= params.size()) {
                    throw new IllegalArgumentException("replay: " + params.size() + " parameters, traced with more");
                }
                bufs[i] = params.get(b.param()).data().storage();
            } else if (b.kind() == Kind.CONST) {
                bufs[i] = constants[i];
            }
        }
        Backend backend = Backends.current();
        Object[][] calls = new Object[nodes.size()][];
        boolean reuse = Boolean.parseBoolean(System.getProperty("lory4j.capture.reuse", "true"));
        try (AutoCloseable scope = reuse ? pool.use() : () -> {}) {
            run(backend, bufs, calls, inputs, reuse);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        outputs.forEach((name, ref) -> out.put(name, view(bufs, ref)));
        return out;
    }

    private void run(Backend backend, Storage[] bufs, Object[][] calls, Map<String, int[]> inputs, boolean reuse) {
        for (int k = 0; k < nodes.size(); k++) {
            switch (nodes.get(k)) {
                case Prim p -> bind(bufs, p.out(), invoke(backend, p, bufs, inputs), p.op());
                case Forward f -> {
                    Object[] r = forward(f, bufs, inputs);
                    calls[k] = r;
                    bind(bufs, f.out(), (Tensor) r[0], f.op().name());
                }
                case Backward b -> {
                    Forward f = (Forward) nodes.get(b.forward());
                    Object[] call = calls[b.forward()];
                    Tensor[] grads = f.op().kernelBackward(call[1], (Tensor) call[0], view(bufs, b.dy()), b.needs());
                    for (int i = 0; i < grads.length; i++) {
                        if (b.grads()[i] != null) {
                            bind(bufs, b.grads()[i], grads[i], f.op().name() + " backward");
                        }
                    }
                    calls[b.forward()] = null;
                }
            }
            if (reuse) {
                for (int id : deadAfter[k]) {
                    Storage s = bufs[id];
                    if (s != null && !s.isResident() && !s.isDeviceNewer()) {
                        pool.give(s.peek());
                    }
                    bufs[id] = null;
                }
            }
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object[] forward(Forward f, Storage[] bufs, Map<String, int[]> inputs) {
        Tensor[] in = new Tensor[f.inputs().length];
        for (int i = 0; i < in.length; i++) {
            in[i] = view(bufs, f.inputs()[i]);
        }
        Object args = f.argInts().isEmpty() ? f.args() : substitute(f.args(), f.argInts(), inputs);
        Object[] r = ((Composite) f.op()).kernelForward(in, args, f.site(), f.recording());
        if (r == null) {
            throw new IllegalStateException("replay: the kernel of " + f.op().name() + " declined a call it took when "
                    + "traced (on backend " + Backends.current().name() + ")");
        }
        return r;
    }

    /** The argument record with its traced input arrays replaced by this replay's. */
    private static Object substitute(Object args, Map<Integer, Ints> argInts, Map<String, int[]> inputs) {
        try {
            RecordComponent[] rc = args.getClass().getRecordComponents();
            Object[] values = new Object[rc.length];
            Class<?>[] types = new Class<?>[rc.length];
            for (int i = 0; i < rc.length; i++) {
                values[i] = argInts.containsKey(i) ? inputs.get(argInts.get(i).input()) : rc[i].getAccessor().invoke(args);
                types[i] = rc[i].getType();
            }
            return args.getClass().getDeclaredConstructor(types).newInstance(values);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("replay: cannot rebuild the arguments " + args + ": " + e, e);
        }
    }

    private static Tensor view(Storage[] bufs, Ref r) {
        return Tensor.of(bufs[r.buffer()], r.shape(), r.strides(), r.offset());
    }

    private static void bind(Storage[] bufs, Ref r, Tensor t, String op) {
        if (t == null || t.offset() != r.offset() || !Arrays.equals(t.shape(), r.shape())
                || !Arrays.equals(t.strides(), r.strides())) {
            throw new IllegalStateException("replay: " + op + " gave " + (t == null ? "nothing"
                    : Shapes.str(t.shape()) + " at offset " + t.offset()) + " where the trace had "
                    + Shapes.str(r.shape()) + " at offset " + r.offset());
        }
        bufs[r.buffer()] = t.storage();
    }

    private static Tensor invoke(Backend b, Prim p, Storage[] bufs, Map<String, int[]> inputs) {
        Object[] a = p.args();
        Object[] v = new Object[a.length];
        for (int i = 0; i < a.length; i++) {
            v[i] = switch (a[i]) {
                case Ref r -> view(bufs, r);
                case Ref[] rs -> Arrays.stream(rs).map(r -> view(bufs, r)).toArray(Tensor[]::new);
                case Ints n -> n.input() != null ? inputs.get(n.input()) : n.constant();
                case null -> null;
                default -> a[i];
            };
        }
        return switch (p.op()) {
            case "copy" -> b.copy((Tensor) v[0]);
            case "concat" -> b.concat((Integer) v[0], (Tensor[]) v[1]);
            case "pad" -> b.pad((Tensor) v[0], (int[]) v[1], (int[]) v[2], (Float) v[3]);
            case "indexSelect" -> b.indexSelect((Tensor) v[0], (Integer) v[1], (int[]) v[2]);
            case "indexAdd" -> b.indexAdd((Tensor) v[0], (Integer) v[1], (int[]) v[2], (Tensor) v[3]);
            case "gather" -> b.gather((Tensor) v[0], (Integer) v[1], (int[]) v[2], (int[]) v[3]);
            case "scatterAdd" -> b.scatterAdd((Tensor) v[0], (Integer) v[1], (int[]) v[2], (int[]) v[3], (Tensor) v[4]);
            case "where" -> b.where((Tensor) v[0], (Tensor) v[1], (Tensor) v[2]);
            case "unary" -> b.unary((UnaryOp) v[0], (Tensor) v[1]);
            case "binary" -> b.binary((BinaryOp) v[0], (Tensor) v[1], (Tensor) v[2]);
            case "reduce" -> b.reduce((ReduceOp) v[0], (Tensor) v[1], (int[]) v[2], (Boolean) v[3]);
            case "matmul" -> b.matmul((Tensor) v[0], (Tensor) v[1]);
            case "softmax" -> b.softmax((Tensor) v[0], (Integer) v[1], (Boolean) v[2]);
            case "causalSoftmax" -> b.causalSoftmax((Tensor) v[0]);
            case "topKMask" -> b.topKMask((Tensor) v[0], (Integer) v[1], (Integer) v[2]);
            case "softmaxBackward" -> b.softmaxBackward((Tensor) v[0], (Tensor) v[1], (Float) v[2]);
            case "rmsNorm" -> b.rmsNorm((Tensor) v[0], (Tensor) v[1], (Float) v[2]);
            case "layerNorm" -> b.layerNorm((Tensor) v[0], (Tensor) v[1], (Tensor) v[2], (Float) v[3]);
            default -> throw new IllegalStateException("replay: unknown primitive " + p.op());
        };
    }

    /** Builds a graph while a step runs (used by {@link Capture}). */
    static final class Builder {
        private final List<Buffer> buffers = new ArrayList<>();
        private final List<Node> nodes = new ArrayList<>();
        /**
         * Buffer ids by storage, held weakly (Storage keeps Object's identity equals and hashCode): a temporary that
         * the traced step has dropped is collected as in an eager step, so tracing needs no more memory than one.
         */
        private final Map<Storage, Integer> ids = new java.util.WeakHashMap<>();
        private final Map<int[], String> inputs = new java.util.IdentityHashMap<>();
        private final Map<String, Integer> inputLengths = new LinkedHashMap<>();
        private final List<Tap> taps = new ArrayList<>();
        private final Map<String, Ref> tapRefs = new LinkedHashMap<>();
        private final Map<String, Tensor> tapValues = new LinkedHashMap<>();

        Builder(List<Var> params, Map<String, int[]> named) {
            for (int i = 0; i < params.size(); i++) {
                Storage s = params.get(i).data().storage();
                if (!ids.containsKey(s)) {
                    ids.put(s, buffers.size());
                    buffers.add(new Buffer(Kind.PARAM, i, null));
                }
            }
            named.forEach((name, array) -> {
                inputs.put(array, name);
                inputLengths.put(name, array.length);
            });
        }

        /** A view of t, its storage numbered (an unknown one becomes a constant with its values now). */
        Ref ref(Tensor t) {
            Integer id = ids.get(t.storage());
            if (id == null) {
                id = buffers.size();
                ids.put(t.storage(), id);
                buffers.add(new Buffer(Kind.CONST, -1, t.storage().peek().clone()));
            }
            return new Ref(id, t.offset(), t.shape(), t.strides());
        }

        /** A view of a node's output, its storage numbered as a new temporary unless it is known. */
        Ref out(Tensor t) {
            if (t == null) {
                return null;
            }
            Integer id = ids.get(t.storage());
            if (id == null) {
                id = buffers.size();
                ids.put(t.storage(), id);
                buffers.add(new Buffer(Kind.TEMP, -1, null));
            }
            return new Ref(id, t.offset(), t.shape(), t.strides());
        }

        Ints ints(int[] a) {
            String name = inputs.get(a);
            return name != null ? new Ints(name, null) : new Ints(null, a.clone());
        }

        Object arg(Object a) {
            return switch (a) {
                case Tensor t -> ref(t);
                case Tensor[] ts -> Arrays.stream(ts).map(this::ref).toArray(Ref[]::new);
                case int[] is -> ints(is);
                case null -> null;
                default -> a;
            };
        }

        void prim(String op, Tensor out, Object... args) {
            Object[] a = new Object[args.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = arg(args[i]);
            }
            nodes.add(new Prim(op, a, out(out)));
        }

        int forward(Composite<?> op, Object args, Site site, Tensor[] in, Tensor y, boolean recording) {
            Map<Integer, Ints> argInts = new LinkedHashMap<>();
            if (args != null && args.getClass().isRecord()) {
                RecordComponent[] rc = args.getClass().getRecordComponents();
                for (int i = 0; i < rc.length; i++) {
                    try {
                        if (rc[i].getAccessor().invoke(args) instanceof int[] a && inputs.containsKey(a)) {
                            argInts.put(i, new Ints(inputs.get(a), null));
                        }
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException("capture: cannot read " + args + ": " + e, e);
                    }
                }
            }
            Ref[] refs = Arrays.stream(in).map(this::ref).toArray(Ref[]::new);
            nodes.add(new Forward(op, args, argInts, site, refs, out(y), recording));
            return nodes.size() - 1;
        }

        void backward(int forward, Tensor dy, boolean[] needs, Tensor[] grads) {
            Ref[] g = new Ref[grads.length];
            for (int i = 0; i < g.length; i++) {
                g[i] = needs[i] && grads[i] != null ? out(grads[i]) : null;
            }
            nodes.add(new Backward(forward, ref(dy), needs.clone(), g));
        }

        /** Makes t an output of the step whose value goes to {@code sink} after every run. */
        void tap(String name, Tensor t, java.util.function.Consumer<Tensor> sink) {
            String output = "tap " + taps.size() + " " + name;
            tapRefs.put(output, ref(t));
            tapValues.put(output, t);
            taps.add(new Tap(output, sink));
        }

        /** Makes value the output "assign i" of the step, for state (the whole of parameter i). */
        void assign(Tensor state, Tensor value) {
            Integer id = ids.get(state.storage());
            if (id == null || buffers.get(id).kind() != Kind.PARAM || state.offset() != 0 || !state.isContiguous()
                    || state.numel() != state.storage().size()) {
                throw new IllegalStateException("capture: an assignment to a tensor " + Shapes.str(state.shape())
                        + " that is not (the whole of) a parameter of the traced step: pass the state with them");
            }
            String output = "assign " + buffers.get(id).param();
            tapRefs.put(output, ref(value));
            tapValues.put(output, value);
        }

        Graph build(Map<String, Ref> outputs, Map<String, Tensor> traced) {
            Map<String, Ref> all = new LinkedHashMap<>(outputs);
            all.putAll(tapRefs);
            Map<String, Tensor> values = new LinkedHashMap<>(traced);
            values.putAll(tapValues);
            return new Graph(buffers, nodes, all, inputLengths, values, taps);
        }
    }
}
