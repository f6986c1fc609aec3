package dev.lory4j.moe.train;

/** An endless, deterministic stream of training batches whose position can be saved and restored. */
public interface BatchSource {
    /** The next batch. */
    Batch next();

    /** The position of the next batch (what a checkpoint stores). */
    long position();

    /** Continues from a saved {@link #position()}. */
    void seek(long position);
}
