package dev.lory4j.moe.inspect;

import dev.lory4j.moe.ExpertBank;
import dev.lory4j.moe.RoutingTrace;

/**
 * Numbers the routing views show: the mutual information between domain and expert, each domain's deviation from the
 * layer's mean weights (specialisation), and the distance between experts (1 - cosine of their weights).
 */
public final class RoutingStats {
    private RoutingStats() {}

    /**
     * The mutual information I(domain; expert) in bits of the joint distribution p(d, e) = p(d) · w̄(d, e), with p(d)
     * proportional to {@code mass[d]} (the domain's segment count) and w̄(d, ·) the domain's mean routing weights
     * (each row is renormalised to sum to 1; a domain of mass 0 is left out). 0 when every domain routes alike; at
     * most min(log2 D, log2 E).
     */
    public static double mutualInformationBits(double[][] meanWeights, double[] mass) {
        if (meanWeights.length != mass.length || meanWeights.length == 0) {
            throw new IllegalArgumentException("RoutingStats.mutualInformationBits: " + meanWeights.length
                    + " rows of weights for " + mass.length + " domain masses (need the same number, at least one)");
        }
        int experts = meanWeights[0].length;
        double total = 0;
        for (int d = 0; d < mass.length; d++) {
            if (!(mass[d] >= 0) || meanWeights[d].length != experts) {
                throw new IllegalArgumentException("RoutingStats.mutualInformationBits: domain " + d + " has mass "
                        + mass[d] + " and " + meanWeights[d].length + " weights (need mass >= 0 and " + experts + ")");
            }
            total += mass[d];
        }
        if (total == 0) {
            return Double.NaN;
        }
        double[][] joint = new double[mass.length][experts];
        double[] pe = new double[experts];
        for (int d = 0; d < mass.length; d++) {
            if (mass[d] == 0) {
                continue;
            }
            double sum = 0;
            for (double w : meanWeights[d]) {
                if (!(w >= 0)) {
                    throw new IllegalArgumentException("RoutingStats.mutualInformationBits: domain " + d
                            + " has a weight " + w + " (need finite weights >= 0)");
                }
                sum += w;
            }
            for (int e = 0; e < experts; e++) {
                joint[d][e] = mass[d] / total * meanWeights[d][e] / sum;
                pe[e] += joint[d][e];
            }
        }
        double mi = 0;
        for (int d = 0; d < mass.length; d++) {
            double pd = mass[d] / total;
            for (int e = 0; e < experts; e++) {
                if (joint[d][e] > 0) {
                    mi += joint[d][e] * Math.log(joint[d][e] / (pd * pe[e]));
                }
            }
        }
        return Math.max(0, mi / Math.log(2));
    }

    /**
     * Each domain's mean weights minus the layer's mean weights over all its segments (domains weighted by their
     * segment counts, {@code mass}): positive where a domain gives an expert more weight than the layer does on
     * average. Rows of domains without segments are NaN.
     */
    public static double[][] specialisation(double[][] meanWeights, double[] mass) {
        if (meanWeights.length != mass.length) {
            throw new IllegalArgumentException("RoutingStats.specialisation: " + meanWeights.length
                    + " rows of weights for " + mass.length + " domain masses");
        }
        int experts = meanWeights.length == 0 ? 0 : meanWeights[0].length;
        double[] layer = new double[experts];
        double total = 0;
        for (int d = 0; d < meanWeights.length; d++) {
            if (mass[d] > 0) {
                total += mass[d];
                for (int e = 0; e < experts; e++) {
                    layer[e] += mass[d] * meanWeights[d][e];
                }
            }
        }
        double[][] out = new double[meanWeights.length][experts];
        for (int d = 0; d < meanWeights.length; d++) {
            for (int e = 0; e < experts; e++) {
                out[d][e] = mass[d] > 0 ? meanWeights[d][e] - layer[e] / total : Double.NaN;
            }
        }
        return out;
    }

    /** 1 - cosine similarity of every pair of experts over their three weight matrices; the diagonal is NaN. */
    public static double[][] expertDistance(ExpertBank bank) {
        double[][] cos = RoutingTrace.expertSimilarity(bank);
        double[][] out = new double[cos.length][cos.length];
        for (int i = 0; i < cos.length; i++) {
            for (int j = 0; j < cos.length; j++) {
                out[i][j] = i == j ? Double.NaN : 1 - cos[i][j];
            }
        }
        return out;
    }

    /** The smallest and largest finite values of these matrices ({NaN, NaN} when there are none). */
    public static double[] range(Iterable<double[][]> matrices) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[][] m : matrices) {
            for (double[] row : m) {
                for (double v : row) {
                    if (Double.isFinite(v)) {
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                    }
                }
            }
        }
        return lo > hi ? new double[] {Double.NaN, Double.NaN} : new double[] {lo, hi};
    }
}
