package dev.lory4j.autograd.optim;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.Collection;

/** Gradient-norm clipping, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
    private GradClip() {}

    /** Scales all gradients so their joint L2 norm is at most {@code maxNorm}; returns the norm before clipping. */
    public static double clipGradNorm(Collection<Var> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipGradNorm: max norm " + maxNorm + " must be > 0");
        }
        Backend backend = Backends.current();
        double sq = 0;
        for (Var p : params) {
            Tensor g = p.grad();
            if (g != null) {
                sq += backend.sumOfSquares(g); // on the device where a device backend holds the gradient
            }
        }
        double norm = Math.sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (Var p : params) {
                if (p.grad() != null) {
                    p.setGrad(backend.scaled(p.grad(), (float) coef));
                }
            }
        }
        return norm;
    }
}
