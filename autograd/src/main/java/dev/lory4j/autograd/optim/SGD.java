package dev.lory4j.autograd.optim;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/** SGD with optional momentum (PyTorch semantics: dampening, Nesterov) and L2 weight decay. */
public final class SGD extends Optimizer {
    private final float momentum;
    private final float dampening;
    private final float weightDecay;
    private final boolean nesterov;
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();

    /** Plain SGD with momentum (no dampening, no decay). */
    public SGD(Map<String, Var> params, float lr, float momentum) {
        this(params, lr, momentum, 0f, 0f, false);
    }

    /** SGD with every option. */
    public SGD(Map<String, Var> params, float lr, float momentum, float dampening, float weightDecay,
               boolean nesterov) {
        super(params, lr);
        if (!(momentum >= 0) || !(weightDecay >= 0) || (nesterov && (momentum <= 0 || dampening != 0))) {
            throw new IllegalArgumentException("SGD: momentum " + momentum + " and weight decay " + weightDecay
                    + " must be >= 0; Nesterov needs momentum > 0 and no dampening");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        if (momentum > 0) {
            for (Map.Entry<String, Var> e : this.params.entrySet()) {
                buffers.put(e.getKey(), Tensor.zeros(e.getValue().shape()));
            }
        }
    }

    @Override
    protected void update(String name, Tensor p, Tensor g) {
        Tensor d = weightDecay == 0 ? g : g.add(p.mul(weightDecay));
        if (momentum > 0) {
            Tensor buf = buffers.get(name);
            if (step == 1) {
                buf.copyFrom(d);
            } else {
                buf.mulInPlace(momentum).addScaledInPlace(d, 1 - dampening);
            }
            d = nesterov ? d.add(buf.mul(momentum)) : buf;
        }
        p.addScaledInPlace(d.contiguous(), -lr);
    }

    @Override
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        buffers.forEach((k, t) -> out.put("momentum_buffer." + k, t));
        return out;
    }
}
