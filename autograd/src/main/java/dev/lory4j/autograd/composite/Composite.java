package dev.lory4j.autograd.composite;

import dev.lory4j.autograd.EnableGrad;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backends;
import java.util.Arrays;

/**
 * A named op with one reference decomposition into differentiable primitives (autograd ops), which a backend may
 * replace by a fused {@link Kernel} of its own (registered through a {@link KernelProvider}). Layers call
 * {@link #apply}; they never ask which backend runs it. The reference decides the values and gradients: every
 * registered kernel is held to it ({@link CompositeCheck}). Like PyTorch's composite ops with backend kernels.
 *
 * @param <A> the op's non-differentiable arguments (sizes, flags, index arrays, constant tables), a record
 */
public final class Composite<A> {
    /** The reference decomposition: the op in autograd ops on the inputs. */
    @FunctionalInterface
    public interface Reference<A> {
        /** The op's output for these inputs and arguments, recorded as autograd ops. */
        Var apply(Var[] inputs, A args);
    }

    /** The shape and argument check every call passes before any backend work. */
    @FunctionalInterface
    public interface Check<A> {
        /** Throws an {@link IllegalArgumentException} naming the op and the shapes when the call cannot run. */
        void check(Tensor[] inputs, A args);
    }

    private static final ThreadLocal<CallListener> LISTENER = new ThreadLocal<>();

    private final String name;
    private final String[] inputNames;
    private final Check<A> check;
    private final Reference<A> reference;

    /** An op {@code name} over the named differentiable inputs, its call check and its reference. */
    public Composite(String name, String[] inputNames, Check<A> check, Reference<A> reference) {
        this.name = name;
        this.inputNames = inputNames.clone();
        this.check = check;
        this.reference = reference;
    }

    /** The op's name (the key a backend registers its kernel under). */
    public String name() {
        return name;
    }

    /** The names of the differentiable inputs, in order. */
    public String[] inputNames() {
        return inputNames.clone();
    }

    /** The op on these inputs with a call site of its own (no scratch kept between calls). */
    public Var apply(A args, Var... inputs) {
        return apply(null, args, inputs);
    }

    /**
     * The op on these inputs: the current backend's kernel when it has one that takes the call, else the reference
     * decomposition. {@code site} (may be null) is the caller's place for a kernel's scratch kept between calls.
     */
    public Var apply(Site site, A args, Var... inputs) {
        Tensor[] t = data(inputs);
        check.check(t, args);
        Kernel<A> kernel = Kernels.find(Backends.current(), this);
        if (kernel != null) {
            boolean recording = NoGrad.isGradEnabled() && Arrays.stream(inputs).anyMatch(Var::requiresGrad);
            Call<A> call = new Call<>(this, t, args, site, recording);
            CallListener listener = LISTENER.get();
            Tensor y = listener == null ? kernel.forward(call) : opaquely(listener, () -> kernel.forward(call));
            if (y != null) {
                if (listener == null) {
                    return Var.custom(name, y, inputs, (g, needs) -> kernel.backward(call, y, g, needs));
                }
                int id = listener.forward(this, args, site, t, y, recording);
                return Var.custom(name, y, inputs, (g, needs) -> {
                    Tensor[] grads = opaquely(listener, () -> kernel.backward(call, y, g, needs));
                    listener.backward(id, g, needs, grads);
                    return grads;
                });
            }
        }
        return reference.apply(inputs, args);
    }

    /**
     * Runs this op's kernel for a replay: the output of a call like {@link #apply}'s with these tensors, and the
     * call (its saved state) for {@link #kernelBackward}; null when the current backend has no kernel or it declines.
     */
    public Object[] kernelForward(Tensor[] inputs, A args, Site site, boolean recording) {
        Kernel<A> kernel = Kernels.find(Backends.current(), this);
        if (kernel == null) {
            return null;
        }
        Call<A> call = new Call<>(this, inputs, args, site, recording);
        Tensor y = kernel.forward(call);
        return y == null ? null : new Object[] {y, call};
    }

    /** The kernel's backward pass of a call made by {@link #kernelForward} (a replay). */
    @SuppressWarnings("unchecked")
    public Tensor[] kernelBackward(Object call, Tensor y, Tensor dy, boolean[] needs) {
        Call<A> c = (Call<A>) call;
        return Kernels.find(Backends.current(), this).backward(c, y, dy, needs);
    }

    /** Reports the kernel calls of every composite op on this thread to {@code listener} (null: stop). */
    public static void listen(CallListener listener) {
        if (listener == null) {
            LISTENER.remove();
        } else {
            LISTENER.set(listener);
        }
    }

    private static <T> T opaquely(CallListener listener, java.util.function.Supplier<T> body) {
        try (AutoCloseable scope = listener.opaque()) {
            return body.get();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The reference decomposition applied to these inputs (no kernel), recorded as autograd ops. */
    public Var reference(A args, Var... inputs) {
        check.check(data(inputs), args);
        return reference.apply(inputs, args);
    }

    /** The reference's output for these tensors, without recording a graph (a kernel's fallback). */
    public Tensor referenceForward(Tensor[] inputs, A args) {
        try (NoGrad ng = NoGrad.enter()) {
            return reference(args, Arrays.stream(inputs).map(Var::of).toArray(Var[]::new)).data();
        }
    }

    /**
     * The reference's gradients for these tensors and output gradient {@code dy}: one per input, null where
     * {@code needs[i]} is false (a kernel's fallback, and what {@link CompositeCheck} compares kernels with).
     */
    public Tensor[] referenceBackward(Tensor[] inputs, A args, Tensor dy, boolean[] needs) {
        try (EnableGrad eg = EnableGrad.enter()) {
            Var[] v = new Var[inputs.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = needs[i] ? Var.param(inputs[i]) : Var.of(inputs[i]);
            }
            Tensor[] grads = new Tensor[v.length];
            Var y = reference(args, v);
            if (y.requiresGrad()) {
                y.backward(dy, false);
            }
            for (int i = 0; i < v.length; i++) {
                grads[i] = needs[i] ? (v[i].grad() != null ? v[i].grad() : Tensor.zeros(inputs[i].shape())) : null;
            }
            return grads;
        }
    }

    private Tensor[] data(Var[] inputs) {
        if (inputs.length != inputNames.length) {
            throw new IllegalArgumentException(name + ": " + inputs.length + " inputs given for "
                    + inputNames.length + " (" + String.join(", ", inputNames) + ")");
        }
        Tensor[] t = new Tensor[inputs.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = inputs[i].data();
        }
        return t;
    }

    @Override
    public String toString() {
        return name + "(" + String.join(", ", inputNames) + ")";
    }
}
