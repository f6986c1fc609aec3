package dev.lory4j.autograd.nn;

import dev.lory4j.tensor.Tensor;

/**
 * A whole decoder's training loss and its gradients as one program of a backend
 * ({@link dev.lory4j.autograd.composite.KernelProvider#decoder}), for one batch shape: only the tokens and targets go in and only the loss comes out; the activations stay where the
 * program runs, and so may the gradients. Interim: a hand-written copy of the model that issue #15 replaces with the
 * backend compiling the captured training step.
 */
public interface DecoderProgram {
    /**
     * The mean next-token cross-entropy over the rows whose target is not the ignore index (NaN when there is none)
     * for tokens and targets [batch · seqLen]. The program keeps what its backward pass needs until the next call.
     */
    float loss(int[] tokens, int[] targets);

    /**
     * The gradients of {@code g} · {@link #loss}(tokens, targets) for every parameter, in the order of
     * {@link DecoderSpec}; the forward pass runs again unless the last one was for these same arrays. The backend
     * may hand the gradients out still on its device (Storage.deviceNewer).
     */
    Tensor[] grads(int[] tokens, int[] targets, float g);
}
