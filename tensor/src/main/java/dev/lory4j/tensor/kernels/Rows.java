package dev.lory4j.tensor.kernels;

import java.util.function.IntConsumer;

/** Runs a per-row kernel over many rows, split over {@link Parallel} when the work is large enough to pay. */
public final class Rows {
    private Rows() {}

    /** Calls {@code row.accept(r)} for r in [0, rows); {@code cols} (work per row) decides whether to go parallel. */
    public static void forRows(int rows, int cols, IntConsumer row) {
        if ((long) rows * cols >= Elementwise.PARALLEL_THRESHOLD && rows > 1 && Parallel.threads() > 1) {
            int tasks = Math.min(rows, Parallel.threads() * 4);
            Parallel.parallelFor(tasks, t -> {
                int from = (int) ((long) rows * t / tasks);
                int to = (int) ((long) rows * (t + 1) / tasks);
                for (int r = from; r < to; r++) {
                    row.accept(r);
                }
            });
        } else {
            for (int r = 0; r < rows; r++) {
                row.accept(r);
            }
        }
    }
}
