package dev.lory4j.autograd.composite;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.RoPE;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Holds a backend's kernels to the reference decompositions: each {@link Composite} is run through
 * {@link Composite#apply} (the current backend's kernel) and through its reference with no kernel anywhere (the
 * decomposition into primitives, on the same backend) on the same random inputs, and
 * the output and every input gradient must agree within a relative error by norm. Sizes are odd so that vector
 * loops run their tails. A backend's test calls {@link #checkRegisteredKernels} with the backend in use.
 */
public final class CompositeCheck {
    private CompositeCheck() {}

    /** One call of a composite: its arguments and input values. */
    public record Example<A>(Composite<A> op, A args, Tensor[] inputs) {
        /** A short description for messages. */
        public String describe() {
            StringBuilder b = new StringBuilder(op.name()).append('(');
            for (int i = 0; i < inputs.length; i++) {
                b.append(i == 0 ? "" : ", ").append(op.inputNames()[i]).append(' ')
                        .append(dev.lory4j.tensor.Shapes.str(inputs[i].shape()));
            }
            return b.append(')').toString();
        }
    }

    /** What one check found: whether the kernel took the call, and the largest relative error seen. */
    public record Result(boolean kernelRan, double maxRelativeError) {}

    /** Random calls of every composite op (odd sizes; weights marked resident as a model's parameters are). */
    public static List<Example<?>> examples(Rng rng) {
        List<Example<?>> all = new ArrayList<>();
        all.add(new Example<>(Composites.LINEAR, null, new Tensor[] {rng.normal(0f, 1f, 2, 5, 7), weight(rng, 11, 7)}));
        all.add(new Example<>(Composites.LINEAR, null, new Tensor[] {rng.normal(0f, 1f, 19, 13), weight(rng, 9, 13)}));
        for (boolean causal : new boolean[] {true, false}) {
            all.add(new Example<>(Composites.ATTENTION, new Composites.Attention(causal, 0.37f), new Tensor[] {
                rng.normal(0f, 1f, 2, 3, 5, 4), rng.normal(0f, 1f, 2, 3, 7, 4), rng.normal(0f, 1f, 2, 3, 7, 6)}));
        }
        // several query blocks with a short last one, vector tails, heads read in place from [B, L, H, D] views,
        // and fewer queries than keys
        all.add(new Example<>(Composites.ATTENTION, new Composites.Attention(true, 0.29f), new Tensor[] {
            rng.normal(0f, 1f, 1, 150, 2, 13).transpose(1, 2), rng.normal(0f, 1f, 1, 150, 2, 13).transpose(1, 2),
            rng.normal(0f, 1f, 1, 150, 2, 9).transpose(1, 2)}));
        all.add(new Example<>(Composites.ATTENTION, new Composites.Attention(true, 0.41f), new Tensor[] {
            rng.normal(0f, 1f, 2, 100, 17), rng.normal(0f, 1f, 2, 170, 17), rng.normal(0f, 1f, 2, 170, 20)}));
        Tensor[] tables = new RoPE(4, 32, 10000).tables(3, 7);
        all.add(new Example<>(Composites.SELF_ATTENTION, new Composites.SelfAttention(tables[0], tables[1], 3),
                new Tensor[] {rng.normal(0f, 1f, 2, 7, 10), weight(rng, 12, 10), weight(rng, 12, 10),
                    weight(rng, 12, 10), weight(rng, 10, 12)}));
        // RoPE: a head view read in place (rows strided), vector tails (D = 2 x 19), and a width below one vector
        Tensor[] wide = new RoPE(38, 16, 10000).tables(2, 5);
        all.add(new Example<>(Composites.ROPE, null, new Tensor[] {rng.normal(0f, 1f, 2, 5, 3, 38).transpose(1, 2),
            wide[0], wide[1]}));
        Tensor[] narrow = new RoPE(6, 16, 10000).tables(0, 7);
        all.add(new Example<>(Composites.ROPE, null, new Tensor[] {rng.normal(0f, 1f, 7, 6), narrow[0], narrow[1]}));
        all.add(new Example<>(Composites.SILU_MUL, null, new Tensor[] {rng.normal(0f, 3f, 3, 37),
            rng.normal(0f, 1f, 3, 37)}));
        all.add(new Example<>(Composites.SILU_MUL, null, new Tensor[] {rng.normal(0f, 3f, 2, 5, 7).transpose(1, 2),
            rng.normal(0f, 1f, 2, 7, 5)}));
        all.add(new Example<>(Composites.SWIGLU, null, new Tensor[] {rng.normal(0f, 1f, 3, 5, 7), weight(rng, 11, 7),
            weight(rng, 11, 7), weight(rng, 7, 11)}));
        all.add(new Example<>(Composites.MERGED_PRODUCT, null, new Tensor[] {rng.normal(0f, 1f, 3, 5, 7),
            rng.normal(0f, 1f, 3, 4).softmax(-1), weight(rng, 4, 6, 7)}));
        for (int[] s : new int[][] {{3, 5, 7, 11, 3}, {19, 9, 9, 13, 5}}) { // the second takes the packed GEMM paths
            for (boolean recompute : new boolean[] {false, true}) {
                all.add(new Example<>(Composites.MERGED_SWIGLU, new Composites.Merged(recompute), new Tensor[] {
                    rng.normal(0f, 1f, s[0], s[1], s[2]), rng.normal(0f, 1f, s[0], s[4]).softmax(-1),
                    weight(rng, s[4], s[3], s[2]), weight(rng, s[4], s[3], s[2]), weight(rng, s[4], s[2], s[3])}));
            }
        }
        for (int[] s : new int[][] {{13, 7, 4, 11, 2}, {9, 5, 3, 6, 3}}) { // n, d, E, f, k
            Tensor logits = rng.normal(0f, 1f, s[0], s[2]);
            float[] keep = new float[s[2]];
            java.util.Arrays.fill(keep, 1f);
            keep[s[2] - 1] = s[0] > 10 ? 0f : 1f; // the first example's last expert gets no row
            all.add(new Example<>(Composites.ROUTED_SWIGLU, null, new Tensor[] {rng.normal(0f, 1f, s[0], s[1]),
                logits.topKMask(1, s[4]).mul(Tensor.wrap(keep, s[2])), logits.softmax(-1), weight(rng, s[2], s[3], s[1]),
                weight(rng, s[2], s[3], s[1]), weight(rng, s[2], s[1], s[3])}));
        }
        int[] targets = new int[14];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % 5 == 3 ? -100 : rng.nextInt(11); // some rows skipped
        }
        all.add(new Example<>(Composites.LINEAR_CROSS_ENTROPY, new Composites.Targets(targets, -100), new Tensor[] {
            rng.normal(0f, 1f, 2, 7, 6), weight(rng, 11, 6)}));
        all.add(new Example<>(Composites.CROSS_ENTROPY, new Composites.Targets(targets, -100), new Tensor[] {
            rng.normal(0f, 2f, 2, 7, 11)}));
        return all;
    }

    private static Tensor weight(Rng rng, int... shape) {
        Tensor w = rng.normal(0f, 0.4f, shape);
        w.storage().markResident();
        return w;
    }

    /**
     * Runs {@code ex} on the current backend and through the reference with the same output gradient; throws an
     * {@link AssertionError} naming the op, the tensor and the error when they differ by more than {@code tol}.
     */
    public static <A> Result check(Example<A> ex, double tol, Rng rng) {
        Composite<A> op = ex.op();
        Tensor[] in = ex.inputs();
        Var[] params = new Var[in.length];
        for (int i = 0; i < in.length; i++) {
            params[i] = Var.param(in[i]);
        }
        Var y = op.apply(new Site(), ex.args(), params);
        boolean kernelRan = op.name().equals(y.op());
        Tensor dy = rng.normal(0f, 1f, y.shape());
        y.backward(dy, false);
        boolean[] all = new boolean[in.length];
        java.util.Arrays.fill(all, true);
        Tensor want = Kernels.withoutKernels(() -> op.referenceForward(in, ex.args()));
        Tensor[] wantGrads = Kernels.withoutKernels(() -> op.referenceBackward(in, ex.args(), dy, all));
        double worst = compare(ex, "output", y.data(), want, tol);
        for (int i = 0; i < in.length; i++) {
            Tensor got = params[i].grad() == null ? Tensor.zeros(in[i].shape()) : params[i].grad();
            worst = Math.max(worst, compare(ex, "gradient of " + op.inputNames()[i], got, wantGrads[i], tol));
        }
        return new Result(kernelRan, worst);
    }

    private static double compare(Example<?> ex, String what, Tensor got, Tensor want, double tol) {
        if (!java.util.Arrays.equals(got.shape(), want.shape())) {
            throw new AssertionError(ex.describe() + ": " + what + " has shape " + dev.lory4j.tensor.Shapes.str(
                    got.shape()) + ", the reference " + dev.lory4j.tensor.Shapes.str(want.shape()));
        }
        double err = got.relativeErrorTo(want);
        if (!(err <= tol)) {
            throw new AssertionError(ex.describe() + " on backend " + Backends.current().name() + ": " + what
                    + " differs from the reference by " + err + " (relative, by norm; allowed " + tol + ")");
        }
        return err;
    }

    /**
     * Checks every kernel registered for the current backend on {@link #examples}: each must agree with the
     * reference within {@code tol} and take at least one of its examples (a kernel that declines every call is not
     * tested by this, so that is a failure too). Returns the checked ops' names.
     */
    public static List<String> checkRegisteredKernels(double tol, long seed) {
        Backend backend = Backends.current();
        Map<String, Kernel<?>> kernels = Kernels.registered(backend);
        Rng rng = new Rng(seed);
        List<Example<?>> examples = examples(rng);
        List<String> checked = new ArrayList<>();
        for (String name : kernels.keySet().stream().sorted().toList()) {
            boolean ran = false;
            for (Example<?> ex : examples) {
                if (ex.op().name().equals(name)) {
                    ran |= check(ex, tol, rng).kernelRan();
                }
            }
            if (!ran) {
                throw new AssertionError("backend " + backend.name() + " registers a kernel for " + name
                        + " that took none of its examples (or the op has no examples)");
            }
            checked.add(name);
        }
        return checked;
    }
}
