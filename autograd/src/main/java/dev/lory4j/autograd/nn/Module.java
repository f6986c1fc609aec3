package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A layer or model: named parameters and child modules in registration order (so names and order are stable,
 * as in PyTorch's {@code state_dict}), and a train/eval flag that children inherit.
 */
public abstract class Module {
    private final Map<String, Var> params = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /**
     * Registers a trainable parameter under {@code name} and returns it; its storage is marked resident, so a
     * device backend may keep it on the device between steps (see {@link dev.lory4j.tensor.Storage}).
     */
    protected final Var registerParameter(String name, Tensor value) {
        checkName(name);
        value.storage().markResident();
        Var v = Var.param(value);
        params.put(name, v);
        return v;
    }

    /** Registers a child module under {@code name} and returns it. */
    protected final <M extends Module> M registerModule(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains(".") || params.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": bad or duplicate name '" + name + "'");
        }
    }

    /** All parameters with dotted names ({@code model.layers.0.mlp.up_proj.weight}), in a stable order. */
    public final Map<String, Var> namedParameters() {
        Map<String, Var> out = new LinkedHashMap<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, Map<String, Var> out) {
        for (Map.Entry<String, Var> e : params.entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> e : children.entrySet()) {
            e.getValue().collect(prefix + e.getKey() + ".", out);
        }
    }

    /** The parameters in {@link #namedParameters()} order. */
    public final List<Var> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Total number of parameter elements. */
    public final long parameterCount() {
        long n = 0;
        for (Var v : parameters()) {
            n += v.data().numel();
        }
        return n;
    }

    /** Clears the gradients of all parameters. */
    public final void zeroGrad() {
        for (Var v : parameters()) {
            v.zeroGrad();
        }
    }

    /** Sets training mode (dropout active) on this module and all children. */
    public final Module train(boolean on) {
        training = on;
        for (Module m : children.values()) {
            m.train(on);
        }
        return this;
    }

    /** Sets evaluation mode. */
    public final Module eval() {
        return train(false);
    }

    /** Whether this module is in training mode. */
    public final boolean isTraining() {
        return training;
    }

    /** The parameter values by name (shared tensors, not copies). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Var> e : namedParameters().entrySet()) {
            out.put(e.getKey(), e.getValue().data());
        }
        return out;
    }

    /**
     * Copies values into the parameters. Every parameter must be present with its exact shape, and (when
     * {@code strict}) no other names may appear; on any mismatch nothing is changed and the error lists the
     * missing, unexpected and mis-shaped names.
     */
    public final void loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Var> mine = namedParameters();
        List<String> problems = new ArrayList<>();
        TreeSet<String> missing = new TreeSet<>(mine.keySet());
        missing.removeAll(state.keySet());
        if (!missing.isEmpty()) {
            problems.add("missing " + missing);
        }
        if (strict) {
            TreeSet<String> unexpected = new TreeSet<>(state.keySet());
            unexpected.removeAll(mine.keySet());
            if (!unexpected.isEmpty()) {
                problems.add("unexpected " + unexpected);
            }
        }
        for (Map.Entry<String, Var> e : mine.entrySet()) {
            Tensor t = state.get(e.getKey());
            if (t != null && !Arrays.equals(t.shape(), e.getValue().shape())) {
                problems.add(e.getKey() + " has shape " + Shapes.str(t.shape()) + ", expected "
                        + Shapes.str(e.getValue().shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("loadStateDict: " + String.join("; ", problems));
        }
        for (Map.Entry<String, Var> e : mine.entrySet()) {
            e.getValue().data().copyFrom(state.get(e.getKey()));
        }
    }
}
