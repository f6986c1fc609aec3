package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.spi.Backend;
import java.util.Map;

/**
 * Registers a backend's fused kernels for composite ops; found with {@link java.util.ServiceLoader} (a backend
 * module {@code provides} it). Asked once per backend instance.
 */
public interface KernelProvider {
    /** Kernels for {@code backend} keyed by {@link Composite#name()}; empty when this provider has none for it. */
    Map<String, Kernel<?>> kernels(Backend backend);
}
