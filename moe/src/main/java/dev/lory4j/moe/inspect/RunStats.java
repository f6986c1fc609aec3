package dev.lory4j.moe.inspect;

import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.moe.ExpertBank;
import dev.lory4j.moe.ExpertChoiceLayer;
import dev.lory4j.moe.LoryLayer;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.TopKMoeLayer;
import dev.lory4j.moe.train.Trainer;
import java.util.List;

/** Numbers about a training run that reports and metrics files share: active parameters, throughput, loss curves. */
public final class RunStats {
    private RunStats() {}

    /**
     * The parameters one token's forward pass uses: all of them, less per MoE layer the experts it does not run
     * (Lory: the merged FFN costs one expert, so E - 1 of E; top-k: E - k; Expert Choice: E - capacity factor, the
     * mean number of experts per token).
     */
    public static long activeParameters(MoeModel model) {
        double idle = 0;
        for (Layer l : model.feedForwards()) {
            ExpertBank bank = null;
            double used = 1;
            if (l instanceof LoryLayer lory) {
                bank = lory.experts();
            } else if (l instanceof TopKMoeLayer tk) {
                bank = tk.experts();
                used = model.config().topK();
            } else if (l instanceof ExpertChoiceLayer ec) {
                bank = ec.experts();
                used = model.config().capacityFactor();
            }
            if (bank != null) {
                long size = bank.gate().data().numel() + bank.up().data().numel() + bank.down().data().numel();
                idle += size * Math.max(0, bank.count() - used) / bank.count();
            }
        }
        return model.lm().parameterCount() - Math.round(idle);
    }

    /**
     * Training tokens per second over the steps this process timed (a resumed run's earlier steps have no timing):
     * the harmonic mean of the steps' rates, i.e. all tokens over all step time for steps of equal size; NaN if none.
     */
    public static double tokensPerSecond(List<Trainer.StepLog> steps) {
        double inverse = 0;
        int n = 0;
        for (Trainer.StepLog s : steps) {
            if (Double.isFinite(s.tokensPerSecond()) && s.tokensPerSecond() > 0) {
                inverse += 1 / s.tokensPerSecond();
                n++;
            }
        }
        return n == 0 ? Double.NaN : n / inverse;
    }

    /** The step at which training switched from the dense warm-up to experts (upcycling); -1 if it did not. */
    public static int upcycleStep(List<Trainer.StepLog> steps) {
        for (int i = 1; i < steps.size(); i++) {
            if ("dense".equals(steps.get(i - 1).phase()) && !"dense".equals(steps.get(i).phase())) {
                return steps.get(i).step();
            }
        }
        return -1;
    }

    /** The training losses, one per step. */
    public static double[] losses(List<Trainer.StepLog> steps) {
        return steps.stream().mapToDouble(Trainer.StepLog::loss).toArray();
    }

    /** The trailing mean of y over {@code window} points (fewer at the start). */
    public static double[] smoothed(double[] y, int window) {
        if (window <= 0) {
            throw new IllegalArgumentException("RunStats.smoothed: window " + window + " must be positive");
        }
        double[] out = new double[y.length];
        double acc = 0;
        for (int i = 0; i < y.length; i++) {
            acc += y[i];
            if (i >= window) {
                acc -= y[i - window];
            }
            out[i] = acc / Math.min(i + 1, window);
        }
        return out;
    }

    /**
     * A y range that the first steps do not squeeze: from the smallest value to the largest after the first
     * {@code skipFraction} of the points (at least one point skipped when there are more than ten), with 5 % margins.
     */
    public static double[] robustRange(double[] y, double skipFraction) {
        int skip = y.length > 10 ? Math.max(1, (int) Math.ceil(y.length * skipFraction)) : 0;
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < y.length; i++) {
            if (Double.isFinite(y[i])) {
                lo = Math.min(lo, y[i]);
                if (i >= skip) {
                    hi = Math.max(hi, y[i]);
                }
            }
        }
        if (lo > hi) {
            return new double[] {Double.NaN, Double.NaN};
        }
        double margin = Math.max(1e-6, (hi - lo) * 0.05);
        return new double[] {lo - margin, hi + margin};
    }
}
