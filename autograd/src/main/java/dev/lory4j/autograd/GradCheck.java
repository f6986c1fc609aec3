package dev.lory4j.autograd;

import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Checks the gradients of a function of tensors against central finite differences.
 *
 * <p>The output is reduced to the scalar L = sum(f(x) * R) with a fixed random R (so every output element
 * matters and no symmetry hides a wrong sign); analytic gradients come from {@link Var#backward}; numeric ones
 * from (L(x + h e_i) - L(x - h e_i)) / 2h with L accumulated in double. The forward pass runs in float32, so
 * L carries rounding noise of about a few ulps of each |f_i R_i|; that noise divided by 2h is added to the
 * absolute tolerance, which is what makes a fixed tolerance honest across output sizes.
 */
public final class GradCheck {
    private GradCheck() {}

    /** Options: step h, absolute and relative tolerance, and how many elements per input to probe (all if more). */
    public record Options(double h, double atol, double rtol, int maxProbesPerInput, long seed) {
        /** h = 1e-2 (float32 forward: smaller steps drown in rounding), atol 1e-3, rtol 1e-2, 64 probes. */
        public static Options defaults() {
            return new Options(1e-2, 1e-3, 1e-2, 64, 1234);
        }

        /** The same with other tolerances. */
        public Options withTolerance(double atol, double rtol) {
            return new Options(h, atol, rtol, maxProbesPerInput, seed);
        }

        /** The same with another step. */
        public Options withStep(double step) {
            return new Options(step, atol, rtol, maxProbesPerInput, seed);
        }
    }

    /** Checks with default options; throws {@link AssertionError} naming the worst element on failure. */
    public static void check(String name, Function<Var[], Var> f, Tensor... inputs) {
        check(name, Options.defaults(), f, inputs);
    }

    /** Checks every input's gradient; throws {@link AssertionError} naming the worst element on failure. */
    public static void check(String name, Options o, Function<Var[], Var> f, Tensor... inputs) {
        Var[] params = new Var[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            params[i] = Var.param(inputs[i].copy());
        }
        Var out = f.apply(params);
        Tensor r = new Rng(o.seed()).uniform(-1f, 1f, out.shape());
        out.backward(r, false);
        Tensor[] xs = new Tensor[inputs.length];
        Tensor[] analytic = new Tensor[inputs.length];
        String[] labels = new String[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            xs[i] = inputs[i].copy();
            analytic[i] = params[i].grad();
            labels[i] = "input " + i + " " + Shapes.str(inputs[i].shape());
        }
        compare(name, o, labels, xs, analytic, r, () -> {
            Var[] vs = new Var[xs.length];
            for (int j = 0; j < xs.length; j++) {
                vs[j] = Var.of(xs[j]);
            }
            return f.apply(vs).data();
        });
    }

    /**
     * Checks the gradients of the named parameters (e.g. a module's) of {@code f}, which reads them itself;
     * the parameters are perturbed in place and restored.
     */
    public static void checkParameters(String name, Options o, Map<String, Var> params, Supplier<Var> f) {
        for (Var p : params.values()) {
            p.zeroGrad();
        }
        Var out = f.get();
        Tensor r = new Rng(o.seed()).uniform(-1f, 1f, out.shape());
        out.backward(r, false);
        int n = params.size();
        Tensor[] xs = new Tensor[n];
        Tensor[] analytic = new Tensor[n];
        String[] labels = new String[n];
        int i = 0;
        for (Map.Entry<String, Var> e : params.entrySet()) {
            xs[i] = e.getValue().data();
            if (!xs[i].isContiguous()) {
                throw new IllegalArgumentException("checkParameters: parameter " + e.getKey() + " is not contiguous");
            }
            analytic[i] = e.getValue().grad();
            labels[i] = e.getKey() + " " + Shapes.str(xs[i].shape());
            i++;
        }
        compare(name, o, labels, xs, analytic, r, () -> f.get().data());
    }

    /** Probes elements of each perturbable tensor and compares numeric with analytic derivatives. */
    private static void compare(String name, Options o, String[] labels, Tensor[] xs, Tensor[] analytic, Tensor r,
                                Supplier<Tensor> eval) {
        Rng pick = new Rng(o.seed() + 1);
        for (int i = 0; i < xs.length; i++) {
            int n = xs[i].numel();
            int probes = Math.min(n, o.maxProbesPerInput());
            Tensor flat = xs[i].reshape(-1);
            Tensor grad = analytic[i] == null ? null : analytic[i].reshape(-1);
            for (int p = 0; p < probes; p++) {
                int e = probes == n ? p : pick.nextInt(n);
                float x0 = flat.get(e);
                float up = (float) (x0 + o.h());
                float down = (float) (x0 - o.h());
                flat.set(up, e);
                double[] lp = objective(eval, r);
                flat.set(down, e);
                double[] lm = objective(eval, r);
                flat.set(x0, e);
                double step = (double) up - down; // the step actually taken in float
                double num = (lp[0] - lm[0]) / step;
                double noise = 4 * Math.ulp(1f) * (lp[1] + lm[1]) / step;
                double a = grad == null ? 0 : grad.get(e);
                double tol = o.atol() + noise + o.rtol() * Math.max(Math.abs(a), Math.abs(num));
                if (!(Math.abs(a - num) <= tol)) {
                    throw new AssertionError(String.format(Locale.ROOT,
                            "gradcheck %s: %s element %d: analytic %.6g, numeric %.6g (|diff| %.3g > tol %.3g)",
                            name, labels[i], e, a, num, Math.abs(a - num), tol));
                }
            }
        }
    }

    /** {sum(f * r), sum(|f * r|)} in double, without recording a graph. */
    private static double[] objective(Supplier<Tensor> eval, Tensor r) {
        try (NoGrad ng = NoGrad.enter()) {
            float[] out = eval.get().toArray();
            float[] w = r.toArray();
            double s = 0;
            double abs = 0;
            for (int k = 0; k < out.length; k++) {
                s += (double) out[k] * w[k];
                abs += Math.abs((double) out[k] * w[k]);
            }
            return new double[] {s, abs};
        }
    }
}
