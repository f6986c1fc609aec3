package dev.lory4j.tensor;

/** Elementwise functions of one tensor. */
public enum UnaryOp {
    NEG, ABS, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, SILU, GELU, RELU, SQUARE, RECIPROCAL;

    /** The lowercase name used in error messages, as in {@code tanh}. */
    public String opName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
