package dev.lory4j.moe.train;

import dev.lory4j.tensor.Rng;

/**
 * Deterministic batches of two "domains" whose next token follows a domain rule (t+1 or t+3 mod vocab), so a
 * tiny model can learn them quickly. Batch i depends only on (seed, i), which makes seeking exact.
 */
final class SyntheticSource implements BatchSource {
    private final int vocab;
    private final int batch;
    private final int seqLen;
    private final long seed;
    private long position;
    private final long failAt;

    SyntheticSource(int vocab, int batch, int seqLen, long seed, long failAt) {
        this.vocab = vocab;
        this.batch = batch;
        this.seqLen = seqLen;
        this.seed = seed;
        this.failAt = failAt;
    }

    static Batch make(int vocab, int batch, int seqLen, Rng rng) {
        int[][] rows = new int[batch][seqLen + 1];
        String[] domains = new String[batch];
        for (int r = 0; r < batch; r++) {
            int stride = r % 2 == 0 ? 1 : 3;
            domains[r] = stride == 1 ? "plus-one" : "plus-three";
            int t = rng.nextInt(vocab);
            for (int i = 0; i <= seqLen; i++) {
                rows[r][i] = t;
                t = (t + stride) % vocab;
            }
        }
        return Batch.fromSequences(rows, domains);
    }

    @Override
    public Batch next() {
        if (position == failAt) {
            throw new IllegalStateException("simulated crash at batch " + position);
        }
        return make(vocab, batch, seqLen, new Rng(seed, 1_000_000L * position++));
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public void seek(long p) {
        position = p;
    }
}
