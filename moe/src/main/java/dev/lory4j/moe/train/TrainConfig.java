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

    /** The step at which a Lory model is upcycled from its dense warm-up (0: no warm-up). */
    public int upcycleStep() {
        return Math.round(steps * denseWarmupFraction);
    }
}
