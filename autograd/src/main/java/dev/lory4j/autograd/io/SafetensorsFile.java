package dev.lory4j.autograd.io;

import dev.lory4j.tensor.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The contents of a safetensors file: its tensors (as float32, in the order the header lists them), its
 * {@code __metadata__} strings, and the name of the source they came from (for error messages).
 *
 * <p>Both maps are unmodifiable and keep their iteration order.
 */
public record SafetensorsFile(Map<String, Tensor> tensors, Map<String, String> metadata, String source) {

    /** Copies both maps (keeping their order) into unmodifiable ones. */
    public SafetensorsFile {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(tensors, "tensors")));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(metadata, "metadata")));
        Objects.requireNonNull(source, "source");
    }

    /** Tensors and metadata without a known source (named {@code <memory>} in errors). */
    public SafetensorsFile(Map<String, Tensor> tensors, Map<String, String> metadata) {
        this(tensors, metadata, "<memory>");
    }

    /** The tensor called {@code name}, or an exception naming the missing tensor and the source. */
    public Tensor require(String name) throws SafetensorsException {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new SafetensorsException(source, "no tensor named " + Safetensors.quote(name) + " (the file has "
                    + tensors.size() + " tensors" + (tensors.isEmpty() ? "" : ", e.g. "
                    + Safetensors.quote(tensors.keySet().iterator().next())) + ")");
        }
        return t;
    }
}
