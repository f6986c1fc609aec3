package dev.lory4j.moe.train;

import java.nio.file.Path;

/**
 * Training settings. Defaults follow the Lory paper where it speaks (AdamW betas 0.9/0.95, cosine schedule
 * with 5 % linear warm-up, 5 % dense warm-up before upcycling; spec §7.2, §2.8) and common practice where it
 * does not (weight decay 0.1, gradient clipping at 1.0).
 *
 * @param denseWarmupFraction fraction of steps trained dense before the FFNs are copied into the experts
 *                            (Lory models only; 0 starts from random experts)
 * @param checkpointDir       where checkpoints go (null: none); {@code latest.safetensors} is replaced atomically
 */
public record TrainConfig(int steps, float lr, float minLr, float warmupFraction, float weightDecay, float beta1,
                          float beta2, float clipNorm, float denseWarmupFraction, int evalEvery, int checkpointEvery,
                          Path checkpointDir, long seed) {

    /** Validates the settings. */
    public TrainConfig {
        if (steps <= 0 || !(lr > 0) || !(minLr >= 0) || minLr > lr || !(warmupFraction >= 0 && warmupFraction <= 1)
                || !(denseWarmupFraction >= 0 && denseWarmupFraction < 1) || !(clipNorm > 0)) {
            throw new IllegalArgumentException("TrainConfig: need steps > 0, 0 <= minLr <= lr, fractions in [0, 1),"
                    + " clip > 0; got " + this);
        }
    }

    /** Defaults for a run of {@code steps} steps at peak learning rate {@code lr}. */
    public static TrainConfig defaults(int steps, float lr) {
        return new TrainConfig(steps, lr, lr / 10, 0.05f, 0.1f, 0.9f, 0.95f, 1.0f, 0.05f, 0, 0, null, 1234);
    }

    /** A copy with another checkpoint directory and period. */
    public TrainConfig withCheckpoints(Path dir, int every) {
        return new TrainConfig(steps, lr, minLr, warmupFraction, weightDecay, beta1, beta2, clipNorm,
                denseWarmupFraction, evalEvery, every, dir, seed);
    }

    /** A copy with another dense warm-up fraction. */
    public TrainConfig withDenseWarmup(float fraction) {
        return new TrainConfig(steps, lr, minLr, warmupFraction, weightDecay, beta1, beta2, clipNorm, fraction,
                evalEvery, checkpointEvery, checkpointDir, seed);
    }

    /** A copy that evaluates every {@code every} steps (0: only at the end). */
    public TrainConfig withEvalEvery(int every) {
        return new TrainConfig(steps, lr, minLr, warmupFraction, weightDecay, beta1, beta2, clipNorm,
                denseWarmupFraction, every, checkpointEvery, checkpointDir, seed);
    }

    /**
     * A builder with the defaults of {@link #defaults(int, float)} for 1000 steps at 1e-3 (the minimum learning rate
     * follows the peak as a tenth of it unless set); set what differs, then {@link Builder#build()}.
     */
    public static Builder builder() {
        return new Builder(defaults(1000, 1e-3f), false);
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        return new Builder(this, true);
    }

    /** Named settings for a {@link TrainConfig} (validated by {@link #build()}). */
    public static final class Builder {
        private int steps;
        private float lr;
        private float minLr;
        private boolean minLrSet;
        private float warmupFraction;
        private float weightDecay;
        private float beta1;
        private float beta2;
        private float clipNorm;
        private float denseWarmupFraction;
        private int evalEvery;
        private int checkpointEvery;
        private Path checkpointDir;
        private long seed;

        private Builder(TrainConfig c, boolean minLrSet) {
            steps = c.steps;
            lr = c.lr;
            minLr = c.minLr;
            this.minLrSet = minLrSet;
            warmupFraction = c.warmupFraction;
            weightDecay = c.weightDecay;
            beta1 = c.beta1;
            beta2 = c.beta2;
            clipNorm = c.clipNorm;
            denseWarmupFraction = c.denseWarmupFraction;
            evalEvery = c.evalEvery;
            checkpointEvery = c.checkpointEvery;
            checkpointDir = c.checkpointDir;
            seed = c.seed;
        }

        /** Optimizer steps. */
        public Builder steps(int v) {
            steps = v;
            return this;
        }

        /** Peak learning rate. */
        public Builder lr(float v) {
            lr = v;
            return this;
        }

        /** Learning rate at the end of the cosine schedule (default: a tenth of the peak). */
        public Builder minLr(float v) {
            minLr = v;
            minLrSet = true;
            return this;
        }

        /** Fraction of the steps spent in linear learning-rate warm-up. */
        public Builder warmupFraction(float v) {
            warmupFraction = v;
            return this;
        }

        /** AdamW's decoupled weight decay. */
        public Builder weightDecay(float v) {
            weightDecay = v;
            return this;
        }

        /** AdamW's β1 and β2. */
        public Builder betas(float b1, float b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        /** Gradient clipping's maximum global norm. */
        public Builder clipNorm(float v) {
            clipNorm = v;
            return this;
        }

        /** Fraction of the steps a Lory model trains dense before its experts are copied from the FFNs. */
        public Builder denseWarmupFraction(float v) {
            denseWarmupFraction = v;
            return this;
        }

        /** Evaluate every this many steps (0: only at the end). */
        public Builder evalEvery(int v) {
            evalEvery = v;
            return this;
        }

        /** Write {@code latest.safetensors} into {@code dir} every {@code every} steps and at the end (null: none). */
        public Builder checkpoints(Path dir, int every) {
            checkpointDir = dir;
            checkpointEvery = every;
            return this;
        }

        /** Seed of the initialisation, upcycling and data order. */
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /** The settings (checked). */
        public TrainConfig build() {
            return new TrainConfig(steps, lr, minLrSet ? minLr : lr / 10, warmupFraction, weightDecay, beta1, beta2,
                    clipNorm, denseWarmupFraction, evalEvery, checkpointEvery, checkpointDir, seed);
        }
    }

    /** The step at which a Lory model is upcycled from its dense warm-up (0: no warm-up). */
    public int upcycleStep() {
        return Math.round(steps * denseWarmupFraction);
    }
}
