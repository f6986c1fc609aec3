package dev.lory4j.cli;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The statistics of {@code lory4j experiment}: perplexity of a set of documents per seed, a 95 % confidence interval
 * by seed (Student's t on log perplexity) and one by bootstrap over documents (percentiles of resampled sets, the
 * same resample for every seed and every configuration compared, so comparisons are paired).
 */
final class ExperimentStats {
    private ExperimentStats() {}

    /** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom. */
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042};

    /** A point estimate with a 95 % interval. */
    record Interval(double value, double low, double high) {
        /** The interval mapped through exp(x) - 1 (log ratios to relative changes) or exp (log perplexity). */
        Interval map(java.util.function.DoubleUnaryOperator f) {
            return new Interval(f.applyAsDouble(value), f.applyAsDouble(low), f.applyAsDouble(high));
        }
    }

    /** The 97.5 % quantile of Student's t with {@code df} degrees of freedom (table to 30, then a close fit). */
    static double t975(int df) {
        if (df < 1) {
            throw new IllegalArgumentException("t975: degrees of freedom " + df + " < 1");
        }
        return df <= T975.length ? T975[df - 1] : 1.95996 + 2.4 / df;
    }

    /** Mean of xs with its t interval (needs at least two values; one value gives a NaN interval). */
    static Interval meanInterval(double[] xs) {
        int n = xs.length;
        if (n == 0) {
            throw new IllegalArgumentException("meanInterval: no values");
        }
        double mean = Arrays.stream(xs).sum() / n;
        if (n == 1) {
            return new Interval(mean, Double.NaN, Double.NaN);
        }
        double ss = 0;
        for (double x : xs) {
            ss += (x - mean) * (x - mean);
        }
        double half = t975(n - 1) * Math.sqrt(ss / (n - 1) / n);
        return new Interval(mean, mean - half, mean + half);
    }

    /** The 2.5 % and 97.5 % percentiles of values (sorted in place), linear between order statistics. */
    static double[] percentiles95(double[] values) {
        Arrays.sort(values);
        return new double[] {percentile(values, 0.025), percentile(values, 0.975)};
    }

    private static double percentile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /**
     * Per-document losses of one configuration: {@code loss[s][d]} is the summed loss (nats) of document d under
     * seed s, {@code tokens[d]} its predicted tokens (the same for every seed).
     */
    record Losses(double[][] loss, long[] tokens) {
        /** Checks the shapes. */
        Losses {
            for (double[] row : loss) {
                if (row.length != tokens.length) {
                    throw new IllegalArgumentException("Losses: " + row.length + " documents in a seed's row, "
                            + tokens.length + " token counts");
                }
            }
        }

        /** Log perplexity of seed s over the documents with weight w[d] (a bootstrap's counts; null: each once). */
        double logPerplexity(int s, int[] w) {
            double l = 0;
            double t = 0;
            for (int d = 0; d < tokens.length; d++) {
                int c = w == null ? 1 : w[d];
                l += c * loss[s][d];
                t += c * (double) tokens[d];
            }
            return l / t;
        }

        /** Mean over seeds of the log perplexity, with weights w (null: each document once). */
        double meanLogPerplexity(int[] w) {
            double sum = 0;
            for (int s = 0; s < loss.length; s++) {
                sum += logPerplexity(s, w);
            }
            return sum / loss.length;
        }
    }

    /** Resample counts for {@code resamples} bootstraps of n documents, drawn from {@code seed}. */
    static int[][] bootstrapWeights(int n, int resamples, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] w = new int[resamples][n];
        for (int b = 0; b < resamples; b++) {
            for (int i = 0; i < n; i++) {
                w[b][r.nextInt(n)]++;
            }
        }
        return w;
    }

    /** Perplexity (geometric mean over seeds) with its interval by seed and by bootstrap over documents. */
    static Interval[] perplexity(Losses x, int[][] weights) {
        double[] perSeed = new double[x.loss().length];
        for (int s = 0; s < perSeed.length; s++) {
            perSeed[s] = x.logPerplexity(s, null);
        }
        double[] boot = new double[weights.length];
        for (int b = 0; b < weights.length; b++) {
            boot[b] = x.meanLogPerplexity(weights[b]);
        }
        return both(perSeed, boot, Math::exp);
    }

    /**
     * Relative change of x's perplexity against the baseline's (x / baseline - 1), paired by seed index and by
     * document resample, with both intervals.
     */
    static Interval[] change(Losses x, Losses baseline, int[][] weights) {
        int seeds = Math.min(x.loss().length, baseline.loss().length);
        double[] perSeed = new double[seeds];
        for (int s = 0; s < seeds; s++) {
            perSeed[s] = x.logPerplexity(s, null) - baseline.logPerplexity(s, null);
        }
        double[] boot = new double[weights.length];
        for (int b = 0; b < weights.length; b++) {
            boot[b] = x.meanLogPerplexity(weights[b]) - baseline.meanLogPerplexity(weights[b]);
        }
        return both(perSeed, boot, v -> Math.expm1(v));
    }

    private static Interval[] both(double[] perSeed, double[] boot, java.util.function.DoubleUnaryOperator f) {
        Interval bySeed = meanInterval(perSeed);
        double[] p = percentiles95(boot);
        Interval byDocs = new Interval(bySeed.value(), p[0], p[1]);
        return new Interval[] {bySeed.map(f), byDocs.map(f)};
    }
}
