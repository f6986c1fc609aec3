package dev.lory4j.autograd.io;

import java.io.IOException;

/**
 * A safetensors file (or byte array) that cannot be read: its message names the source and the problem, e.g.
 * {@code model.safetensors: tensor 'w': shape [2,3] with dtype F32 needs 24 bytes but data_offsets [0,20] span 20}.
 */
public final class SafetensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final String problem;

    /** An error in {@code source} (a file name or a caller-chosen label) described by {@code problem}. */
    public SafetensorsException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
        this.problem = problem;
    }

    /** The same, with the lower-level exception that revealed the problem. */
    public SafetensorsException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
        this.problem = problem;
    }

    /** The file name or label of the input that failed. */
    public String source() {
        return source;
    }

    /** The problem alone, without the source prefix. */
    public String problem() {
        return problem;
    }
}
