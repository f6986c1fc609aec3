package dev.lory4j.autograd.optim;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.Collection;
import java.util.List;

/** Gradient-norm clipping, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
    private GradClip() {}

    /** Scales all gradients so their joint L2 norm is at most {@code maxNorm}; returns the norm before clipping. */
    public static double clipGradNorm(Collection<Var> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipGradNorm: max norm " + maxNorm + " must be > 0");
        }
        Backend backend = Backends.current();
        List<Var> with = params.stream().filter(p -> p.grad() != null).toList();
        List<Tensor> grads = with.stream().map(Var::grad).toList();
        double norm = Math.sqrt(backend.sumOfSquares(grads)); // on the device where a device backend holds them
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1 && Double.isFinite(norm)) { // a non-finite norm scales nothing: the caller decides
            List<Tensor> scaled = backend.scaled(grads, (float) coef);
            for (int i = 0; i < with.size(); i++) {
                with.get(i).setGrad(scaled.get(i));
            }
        }
        return norm;
    }
}
