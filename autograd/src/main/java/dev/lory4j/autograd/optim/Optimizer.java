package dev.lory4j.autograd.optim;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Updates named parameters from their gradients; its state (moments, step) can be saved and restored. */
public abstract class Optimizer {
    protected final Map<String, Var> params;
    protected float lr;
    protected long step;

    /** An optimizer over named parameters (names key its saved state). */
    protected Optimizer(Map<String, Var> params, float lr) {
        if (!(lr >= 0) || !Float.isFinite(lr)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": learning rate " + lr
                    + " must be finite and >= 0");
        }
        this.params = new LinkedHashMap<>(params);
        this.lr = lr;
    }

    /** Applies one update with the current gradients (parameters without a gradient are skipped). */
    public final void step() {
        step++;
        List<String> names = new ArrayList<>();
        List<Tensor> ps = new ArrayList<>();
        List<Tensor> gs = new ArrayList<>();
        for (Map.Entry<String, Var> e : params.entrySet()) {
            Var p = e.getValue();
            if (p.grad() != null) {
                names.add(e.getKey());
                ps.add(p.data());
                gs.add(p.grad().contiguous());
            }
        }
        updateAll(names, ps, gs);
    }

    /** Updates one parameter (contiguous gradient) in place; {@link #step} already counts this step. */
    protected abstract void update(String name, Tensor param, Tensor grad);

    /**
     * Updates the parameters of one step (those with a gradient, in order): {@link #update} each by default; an
     * optimizer may hand them to the backend at once.
     */
    protected void updateAll(List<String> names, List<Tensor> params, List<Tensor> grads) {
        for (int i = 0; i < names.size(); i++) {
            update(names.get(i), params.get(i), grads.get(i));
        }
    }

    /** Clears the gradients of all parameters. */
    public final void zeroGrad() {
        for (Var p : params.values()) {
            p.zeroGrad();
        }
    }

    /** The current learning rate. */
    public final float lr() {
        return lr;
    }

    /** Sets the learning rate (schedules call this each step). */
    public final void setLr(float lr) {
        this.lr = lr;
    }

    /** Number of steps taken. */
    public final long steps() {
        return step;
    }

    /** The optimizer's tensors by name (e.g. {@code exp_avg.model.norm.weight}); shared, not copied. */
    public abstract Map<String, Tensor> stateTensors();

    /** Restores the step count and the tensors of {@link #stateTensors()} (copied in; shapes must match). */
    public void loadState(long steps, Map<String, Tensor> tensors) {
        Map<String, Tensor> mine = stateTensors();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException("loadState: optimizer state '" + e.getKey() + "' missing");
            }
            e.getValue().copyFrom(t);
        }
        this.step = steps;
    }

    /**
     * Takes over the step count and every state tensor whose name also exists in {@code other} (same shape);
     * the others keep their fresh values. Used when a model grows (dense warm-up, then experts).
     */
    public void copyStateFrom(Optimizer other) {
        Map<String, Tensor> theirs = other.stateTensors();
        for (Map.Entry<String, Tensor> e : stateTensors().entrySet()) {
            Tensor t = theirs.get(e.getKey());
            if (t != null && java.util.Arrays.equals(t.shape(), e.getValue().shape())) {
                e.getValue().copyFrom(t);
                }
        }
        this.step = other.step;
    }

    protected static void requireContiguous(String op, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalStateException(op + ": parameter tensor must be contiguous");
        }
    }
}
