package dev.lory4j.data.batch;

import dev.lory4j.tensor.Rng;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Batches of packed sequences, epoch after epoch: each epoch visits the sequences in a seeded random order
 * ("context windows within batches are shuffled", spec §6.2) and cuts it into batches of {@code batchSize}
 * (a last partial batch is skipped). Batch {@code b} of epoch {@code e} depends only on
 * {@code (seed, e, b)}, so the exact resume position is the {@link Position} of three numbers. With
 * {@code prefetch > 0} a background thread prepares that many batches ahead; {@link #close()} stops it.
 */
public final class BatchIterator implements Iterator<BatchIterator.Batch>, AutoCloseable {
    /**
     * Where the next batch comes from: what a checkpoint stores to resume exactly.
     *
     * @param seed  the shuffling seed
     * @param epoch the epoch (0-based)
     * @param batch the batch within the epoch (0-based)
     */
    public record Position(long seed, long epoch, long batch) {
    }

    /**
     * One batch.
     *
     * @param tokens    {@code batchSize × seqLen} token ids, row-major
     * @param sequences the packed-sequence index of each row
     * @param position  the position this batch was taken from
     */
    public record Batch(int[] tokens, int[] sequences, int batchSize, int seqLen, Position position) {
    }

    private final PackedSequences packed;
    private final int batchSize;
    private final long seed;
    private final long maxEpochs;
    private final int batchesPerEpoch;
    private long epoch;
    private long batch;
    private int[] perm;
    private long permEpoch = -1;
    private final BlockingQueue<Object> queue;
    private final Thread worker;
    private volatile boolean closed;

    /**
     * An iterator starting at {@code start}.
     *
     * @param packed    the sequences
     * @param batchSize sequences per batch (at most the number of sequences)
     * @param start     the position to start from (a fresh run: {@code new Position(seed, 0, 0)})
     * @param maxEpochs stop after this many epochs (0: never stop)
     * @param prefetch  batches prepared ahead on a background thread (0: none)
     */
    public BatchIterator(PackedSequences packed, int batchSize, Position start, long maxEpochs, int prefetch) {
        if (batchSize <= 0 || batchSize > packed.size()) {
            throw new IllegalArgumentException("BatchIterator: batchSize " + batchSize + " not in [1, "
                    + packed.size() + "] (the number of packed sequences)");
        }
        if (maxEpochs < 0 || prefetch < 0) {
            throw new IllegalArgumentException("BatchIterator: maxEpochs " + maxEpochs + " and prefetch " + prefetch
                    + " must not be negative");
        }
        this.packed = packed;
        this.batchSize = batchSize;
        this.seed = start.seed();
        this.maxEpochs = maxEpochs;
        this.batchesPerEpoch = packed.size() / batchSize;
        if (start.epoch() < 0 || start.batch() < 0 || start.batch() > batchesPerEpoch) {
            throw new IllegalArgumentException("BatchIterator: position " + start + " is outside epochs of "
                    + batchesPerEpoch + " batches");
        }
        this.epoch = start.epoch();
        this.batch = start.batch();
        normalize();
        if (prefetch > 0) {
            queue = new ArrayBlockingQueue<>(prefetch);
            Generator g = new Generator(epoch, batch);
            worker = Thread.ofPlatform().daemon().name("lory4j-batch-prefetch").start(() -> {
                try {
                    while (!closed) {
                        Batch b = g.next();
                        queue.put(b == null ? END : b);
                        if (b == null) {
                            return;
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    queue.offer(e);
                }
            });
        } else {
            queue = null;
            worker = null;
        }
    }

    private static final Object END = new Object();
    private Object peeked;

    private void normalize() {
        if (batch == batchesPerEpoch) {
            epoch++;
            batch = 0;
        }
    }

    /** The position of the next batch {@link #next()} returns (save it to resume exactly there). */
    public Position position() {
        return new Position(seed, epoch, batch);
    }

    /** Batches per epoch. */
    public int batchesPerEpoch() {
        return batchesPerEpoch;
    }

    @Override
    public boolean hasNext() {
        if (closed) {
            return false;
        }
        if (queue == null) {
            return maxEpochs == 0 || epoch < maxEpochs;
        }
        if (peeked == null) {
            try {
                peeked = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("BatchIterator: interrupted while waiting for a batch", e);
            }
        }
        if (peeked instanceof RuntimeException e) {
            throw new IllegalStateException("BatchIterator: the prefetch thread failed", e);
        }
        return peeked != END;
    }

    @Override
    public Batch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("BatchIterator: no batch after " + position()
                    + (closed ? " (closed)" : " (epoch limit " + maxEpochs + ")"));
        }
        Batch b;
        if (queue == null) {
            b = make(epoch, batch);
        } else {
            b = (Batch) peeked;
            peeked = null;
        }
        batch++;
        normalize();
        return b;
    }

    /** Batch {@code b} of epoch {@code e}: a pure function of (seed, e, b). */
    public Batch make(long e, long b) {
        int[] order = permutation(e);
        int seqLen = packed.seqLen();
        int[] tokens = new int[batchSize * seqLen];
        int[] seqs = new int[batchSize];
        for (int r = 0; r < batchSize; r++) {
            int s = order[(int) (b * batchSize + r)];
            seqs[r] = s;
            packed.copyTokens(s, tokens, r * seqLen);
        }
        return new Batch(tokens, seqs, batchSize, seqLen, new Position(seed, e, b));
    }

    private synchronized int[] permutation(long e) {
        if (permEpoch != e) {
            int n = packed.size();
            int[] p = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = i;
            }
            // disjoint stretches of the counter-based stream per epoch (a shuffle of n draws n - 1 values)
            new Rng(seed, e * (long) n).shuffle(p);
            perm = p;
            permEpoch = e;
        }
        return perm;
    }

    private final class Generator {
        long e;
        long b;

        Generator(long e, long b) {
            this.e = e;
            this.b = b;
        }

        Batch next() {
            if (maxEpochs != 0 && e >= maxEpochs) {
                return null;
            }
            Batch out = make(e, b);
            if (++b == batchesPerEpoch) {
                e++;
                b = 0;
            }
            return out;
        }
    }

    /** Stops the prefetch thread; further calls of {@link #hasNext()} return false. */
    @Override
    public void close() {
        closed = true;
        if (worker != null) {
            worker.interrupt();
        }
    }
}
