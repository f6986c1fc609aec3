package dev.lory4j.autograd.optim;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** AdamW with decoupled weight decay and PyTorch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0.01). */
public final class AdamW extends Optimizer {
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>();
    private final Map<String, Tensor> expAvgSq = new LinkedHashMap<>();

    /** AdamW with PyTorch's defaults. */
    public AdamW(Map<String, Var> params) {
        this(params, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f);
    }

    /** AdamW with explicit hyper-parameters. */
    public AdamW(Map<String, Var> params, float lr, float beta1, float beta2, float eps, float weightDecay) {
        super(params, lr);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("AdamW: betas (" + beta1 + ", " + beta2 + ") must be in [0, 1), eps "
                    + eps + " > 0, weight decay " + weightDecay + " >= 0");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Map.Entry<String, Var> e : this.params.entrySet()) {
            expAvg.put(e.getKey(), Tensor.zeros(e.getValue().shape()));
            expAvgSq.put(e.getKey(), Tensor.zeros(e.getValue().shape()));
        }
    }

    @Override
    protected void update(String name, Tensor p, Tensor g) {
        requireContiguous("AdamW", p);
        Tensor m = expAvg.get(name);
        Tensor v = expAvgSq.get(name);
        float bc1 = (float) (1 - Math.pow(beta1, step));
        float bc2 = (float) (1 - Math.pow(beta2, step));
        requireContiguous("AdamW", g);
        Backends.current().adamw(List.of(p), List.of(g), List.of(m), List.of(v), lr, beta1, beta2, eps, weightDecay,
                bc1, bc2);
    }

    /** All parameters of the step in one backend call (a device backend runs them in few launches). */
    @Override
    protected void updateAll(List<String> names, List<Tensor> ps, List<Tensor> gs) {
        List<Tensor> ms = new ArrayList<>();
        List<Tensor> vs = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            requireContiguous("AdamW", ps.get(i));
            requireContiguous("AdamW", gs.get(i));
            ms.add(expAvg.get(names.get(i)));
            vs.add(expAvgSq.get(names.get(i)));
        }
        float bc1 = (float) (1 - Math.pow(beta1, step));
        float bc2 = (float) (1 - Math.pow(beta2, step));
        Backends.current().adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
    }

    /**
     * One clipped AdamW step as numbers, for a backend that runs clipping and the update where the gradients are (a
     * compiled step on a device): the clipping bound, the hyper-parameters of the next step (its learning rate and bias
     * corrections) and each parameter's moments, in the order of the caller's parameter list.
     */
    public record ClippedStep(double maxNorm, float lr, float beta1, float beta2, float eps, float weightDecay,
                              float bc1, float bc2, List<Tensor> expAvg, List<Tensor> expAvgSq) {}

    /**
     * The next step for {@code params} (in that order) clipped to {@code maxNorm}, or null when one of them is not
     * this optimizer's. Count it with {@link #stepTaken} once it was applied.
     */
    public ClippedStep nextStep(List<Var> params, double maxNorm) {
        Map<Var, String> names = new java.util.IdentityHashMap<>();
        this.params.forEach((name, v) -> names.put(v, name));
        List<Tensor> ms = new ArrayList<>();
        List<Tensor> vs = new ArrayList<>();
        for (Var p : params) {
            String name = names.get(p);
            if (name == null || !p.data().isContiguous()) {
                return null;
            }
            ms.add(expAvg.get(name));
            vs.add(expAvgSq.get(name));
        }
        long next = step + 1;
        return new ClippedStep(maxNorm, lr, beta1, beta2, eps, weightDecay, (float) (1 - Math.pow(beta1, next)),
                (float) (1 - Math.pow(beta2, next)), ms, vs);
    }

    /** Counts a step that a backend applied from {@link #nextStep} (the parameters and moments are updated). */
    public void stepTaken() {
        step++;
    }

    @Override
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        expAvg.forEach((k, t) -> out.put("exp_avg." + k, t));
        expAvgSq.forEach((k, t) -> out.put("exp_avg_sq." + k, t));
        return out;
    }
}
