package dev.lory4j.tensor;

/** Elementwise functions of two broadcast tensors; comparisons give 1 for true and 0 for false. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, MAX, MIN, POW, GT, GE, LT, LE, EQ, NE;

    /** The lowercase name used in error messages, as in {@code add}. */
    public String opName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
