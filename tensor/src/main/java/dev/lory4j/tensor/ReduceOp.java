package dev.lory4j.tensor;

/** Reductions over axes. */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN;

    /** The lowercase name used in error messages, as in {@code sum}. */
    public String opName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
