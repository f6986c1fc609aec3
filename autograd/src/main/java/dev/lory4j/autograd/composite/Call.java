package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;

/**
 * One call of a {@link Composite} as its kernel sees it: the input tensors, the arguments, the caller's
 * {@link Site} (may be null), whether a backward pass may follow, and a slot for what the forward pass keeps
 * for the backward pass.
 *
 * @param <A> the op's argument record
 */
public final class Call<A> {
    private final Composite<A> op;
    private final Tensor[] inputs;
    private final A args;
    private final Site site;
    private final boolean recording;
    private Object saved;

    Call(Composite<A> op, Tensor[] inputs, A args, Site site, boolean recording) {
        this.op = op;
        this.inputs = inputs;
        this.args = args;
        this.site = site;
        this.recording = recording;
    }

    /** The op called. */
    public Composite<A> op() {
        return op;
    }

    /** Input i's value. */
    public Tensor input(int i) {
        return inputs[i];
    }

    /** The input values (a copy of the array). */
    public Tensor[] inputs() {
        return inputs.clone();
    }

    /** The non-differentiable arguments. */
    public A args() {
        return args;
    }

    /** The caller's site, or null when the call has none. */
    public Site site() {
        return site;
    }

    /** Whether a backward pass may follow (grad mode on and some input requires a gradient). */
    public boolean recording() {
        return recording;
    }

    /** What the forward pass kept for the backward pass (null if nothing). */
    public Object saved() {
        return saved;
    }

    /** Keeps {@code value} for the backward pass of this call. */
    public void save(Object value) {
        this.saved = value;
    }

    /** The reference's gradients for this call (a kernel's fallback when it cannot run its own backward). */
    public Tensor[] referenceBackward(Tensor dy, boolean[] needs) {
        return op.referenceBackward(inputs, args, dy, needs);
    }
}
