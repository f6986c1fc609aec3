package dev.lory4j.autograd;

/** How a value was made: the op's name, its inputs, and the function that maps output to input gradients. */
record Node(String op, Var[] inputs, Backward backward) {
    /** Maps the gradient of the output to the gradients of the inputs (null entries where not needed). */
    @FunctionalInterface
    interface Backward {
        dev.lory4j.tensor.Tensor[] apply(dev.lory4j.tensor.Tensor gradOutput, boolean[] needs);
    }
}
