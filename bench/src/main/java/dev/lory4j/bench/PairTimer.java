package dev.lory4j.bench;

import java.util.Arrays;

/**
 * Times two contenders against each other in the same JVM: warm both up, then take samples in pairs (ours,
 * peer; next pair peer, ours) and keep the ratio of each pair. On a small shared machine the speed drifts by
 * tens of percent for seconds at a time; a pair sees the same drift on both sides, so the median of per-pair
 * ratios is far steadier than the ratio of two medians. Samples run back to back: sleeping in between lets the
 * (virtual) cores slow down and lowers both figures. Each side repeats its call until one sample takes about
 * {@link #SAMPLE_NANOS}, so a fast peer does not stretch a slow contender's samples or the other way round.
 */
public final class PairTimer {
    private PairTimer() {}

    /** The target length of one sample; short contenders are repeated until a sample takes about this long. */
    static final long SAMPLE_NANOS = 100_000_000L;

    /**
     * Result of {@link #compare}: median nanoseconds per call of each side, and the median and quartiles of the
     * per-pair ratio peerNanos / oursNanos (above 1: ours is faster).
     */
    public record Result(double oursNanos, double peerNanos, double ratio, double ratioP25, double ratioP75,
                         int pairs, int repsOurs, int repsPeer) {}

    /**
     * Warms up both for {@code warmupSeconds} (alternating calls), then samples pairs for at least
     * {@code seconds} and at least {@code minPairs} pairs.
     */
    public static Result compare(Runnable ours, Runnable peer, double warmupSeconds, double seconds, int minPairs) {
        if (!(warmupSeconds >= 0) || !(seconds >= 0) || minPairs < 1) {
            throw new IllegalArgumentException("PairTimer.compare: warm-up " + warmupSeconds + " s, measure "
                    + seconds + " s, minPairs " + minPairs + ": need non-negative times and minPairs >= 1");
        }
        long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        do {
            ours.run();
            peer.run();
        } while (System.nanoTime() < warmEnd);

        int repsOurs = repsFor(ours);
        int repsPeer = repsFor(peer);

        int cap = 64;
        double[] o = new double[cap];
        double[] p = new double[cap];
        double[] r = new double[cap];
        int pairs = 0;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (pairs < minPairs || System.nanoTime() < end) {
            double to;
            double tp;
            if ((pairs & 1) == 0) {
                to = sample(ours, repsOurs);
                tp = sample(peer, repsPeer);
            } else {
                tp = sample(peer, repsPeer);
                to = sample(ours, repsOurs);
            }
            if (pairs == cap) {
                cap *= 2;
                o = Arrays.copyOf(o, cap);
                p = Arrays.copyOf(p, cap);
                r = Arrays.copyOf(r, cap);
            }
            o[pairs] = to;
            p[pairs] = tp;
            r[pairs] = tp / to;
            pairs++;
        }
        o = Arrays.copyOf(o, pairs);
        p = Arrays.copyOf(p, pairs);
        r = Arrays.copyOf(r, pairs);
        return new Result(quantile(o, 0.5), quantile(p, 0.5), quantile(r, 0.5), quantile(r, 0.25),
                quantile(r, 0.75), pairs, repsOurs, repsPeer);
    }

    /** Calls per sample so that one sample of {@code body} takes about {@link #SAMPLE_NANOS}. */
    private static int repsFor(Runnable body) {
        for (int n = 1; ; n *= 2) {
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                body.run();
            }
            long t = System.nanoTime() - t0;
            if (t >= SAMPLE_NANOS / 10 || n >= (1 << 20)) {
                return (int) Math.max(1, Math.min(1 << 24, (double) SAMPLE_NANOS * n / Math.max(1, t)));
            }
        }
    }

    /** Nanoseconds per call over {@code reps} back-to-back calls. */
    private static double sample(Runnable body, int reps) {
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            body.run();
        }
        return (double) (System.nanoTime() - t0) / reps;
    }

    /** The {@code q}-quantile (0..1) of {@code values} by linear interpolation between order statistics. */
    public static double quantile(double[] values, double q) {
        if (values.length == 0) {
            throw new IllegalArgumentException("PairTimer.quantile: no values");
        }
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("PairTimer.quantile: q must be in [0,1], got " + q);
        }
        double[] s = values.clone();
        Arrays.sort(s);
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(s.length - 1, lo + 1);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }
}
