package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;

/**
 * Sees every call of a composite op that a kernel ran (a capture records it as one node of its graph). Set per
 * thread with {@link Composite#listen}; a call that took the reference is not reported (its autograd ops are).
 */
public interface CallListener {
    /** A scope in which the primitives a kernel calls are not recorded on their own (the kernel is one node). */
    AutoCloseable opaque();

    /** The kernel computed {@code output} from {@code inputs}; returns the call's id for {@link #backward}. */
    int forward(Composite<?> op, Object args, Site site, Tensor[] inputs, Tensor output, boolean recording);

    /** The kernel's backward pass of call {@code forward} turned {@code dy} into {@code grads} (null where not needed). */
    void backward(int forward, Tensor dy, boolean[] needs, Tensor[] grads);
}
