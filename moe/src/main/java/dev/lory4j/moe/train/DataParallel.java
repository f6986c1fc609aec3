package dev.lory4j.moe.train;

/**
 * Data-parallel training (design decision 10): this process is replica {@code rank} of {@code replicas}. Every
 * replica reads the same global batches, runs forward and backward on its share of the rows, and {@code reduce}
 * sums the token-weighted gradients (and the loss) over all replicas, so every replica holds the gradient of the
 * global batch's mean loss, clips it and takes the same optimizer step: the run is single-process training on the
 * global batch, up to float rounding in the sums. Exact for models whose loss is a mean over tokens of
 * independent rows (dense, Lory); top-k's load-balancing loss and Expert Choice's selection see only a replica's
 * rows, as in every data-parallel MoE trainer.
 *
 * @param rank     this replica, in [0, replicas)
 * @param replicas how many replicas train together
 * @param reduce   the all-reduce
 */
public record DataParallel(int rank, int replicas, AllReduce reduce) {
    /** Sums buffers across the replicas. */
    @FunctionalInterface
    public interface AllReduce {
        /**
         * Replaces {@code buf} (this replica's contribution) by the elementwise sum over all replicas; every replica
         * gets the same bits (a fixed reduction order), or the call throws.
         */
        void sum(float[] buf);
    }

    /** Checks the values. */
    public DataParallel {
        if (replicas < 1 || rank < 0 || rank >= replicas || reduce == null) {
            throw new IllegalArgumentException("DataParallel: rank " + rank + " of " + replicas
                    + " replicas (need 0 <= rank < replicas and an all-reduce)");
        }
    }

    /** The first row of this replica's share of a batch of {@code rows}. */
    public int from(int rows) {
        return (int) ((long) rows * rank / replicas);
    }

    /** One past the last row of this replica's share of a batch of {@code rows}. */
    public int to(int rows) {
        return (int) ((long) rows * (rank + 1) / replicas);
    }
}
