package dev.lory4j.autograd.composite;

import dev.lory4j.autograd.nn.DecoderProgram;
import dev.lory4j.autograd.nn.DecoderSpec;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import java.util.Map;

/**
 * Registers a backend's fused kernels for composite ops; found with {@link java.util.ServiceLoader} (a backend
 * module {@code provides} it). Asked once per backend instance.
 */
public interface KernelProvider {
    /** Kernels for {@code backend} keyed by {@link Composite#name()}; empty when this provider has none for it. */
    Map<String, Kernel<?>> kernels(Backend backend);

    /**
     * Interim, until a backend compiles the captured training step (issue #15): the whole decoder {@code spec} with
     * these parameters (in {@link DecoderSpec}'s order) and RoPE tables cos, sin [seqLen, D] as one program of
     * {@code backend} for batches of {@code batch} x {@code seqLen} tokens; null (the default) when it has none.
     */
    default DecoderProgram decoder(Backend backend, DecoderSpec spec, Tensor[] params, Tensor cos, Tensor sin,
                                   int batch, int seqLen, int ignoreIndex) {
        return null;
    }

    /** Whether {@link #decoder} may answer for {@code backend} (so a model builds a spec only then). */
    default boolean hasDecoder(Backend backend) {
        return false;
    }
}
