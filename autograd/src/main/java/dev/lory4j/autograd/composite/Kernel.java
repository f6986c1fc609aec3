package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;

/**
 * A backend's fused implementation of a {@link Composite}: values and gradients equal to the reference
 * decomposition's up to float rounding (checked by {@link CompositeCheck}).
 *
 * @param <A> the op's argument record
 */
public interface Kernel<A> {
    /** The output for this call, or null to leave the call to the reference decomposition. */
    Tensor forward(Call<A> call);

    /**
     * One gradient per input for output gradient {@code dy} (null where {@code needs[i]} is false), after
     * {@link #forward} returned {@code y} for the same call.
     */
    Tensor[] backward(Call<A> call, Tensor y, Tensor dy, boolean[] needs);
}
