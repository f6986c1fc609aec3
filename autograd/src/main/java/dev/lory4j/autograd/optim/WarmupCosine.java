package dev.lory4j.autograd.optim;

/**
 * Linear warm-up from 0 to {@code maxLr} over {@code warmupSteps}, then cosine decay to {@code minLr} at
 * {@code totalSteps} (constant after). Step numbers start at 0.
 */
public record WarmupCosine(double maxLr, double minLr, long warmupSteps, long totalSteps) {
    /** Validates the schedule. */
    public WarmupCosine {
        if (!(maxLr >= minLr) || minLr < 0 || warmupSteps < 0 || totalSteps < warmupSteps) {
            throw new IllegalArgumentException("WarmupCosine: need maxLr >= minLr >= 0 and 0 <= warmup <= total, got "
                    + maxLr + ", " + minLr + ", " + warmupSteps + ", " + totalSteps);
        }
    }

    /** The learning rate for step {@code step}. */
    public double lr(long step) {
        if (step < warmupSteps) {
            return maxLr * (step + 1) / warmupSteps;
        }
        if (step >= totalSteps || totalSteps == warmupSteps) {
            return minLr;
        }
        double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
        return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
}
