package dev.lory4j.autograd.composite;

import dev.lory4j.autograd.EnableGrad;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;

/**
 * The CPU's kernel of {@link Composites#ROUTED_SWIGLU}: each expert runs on the rows its mask column selects only
 * (k of E experts per token instead of all E), and its weighted outputs are added into those rows, expert by expert.
 * The sparse computation is written in autograd ops on leaves of the call's own, so its backward pass is theirs.
 */
final class CpuRoutedSwiGlu implements Kernel<Void> {
    /** The call's leaves (x, weights, gate, up, down) and output, recorded for the backward pass. */
    private record Saved(Var[] leaves, Var out) {}

    @Override
    public Tensor forward(Call<Void> call) {
        Tensor[] in = call.inputs();
        int n = in[0].dim(0);
        int experts = in[1].dim(1);
        float[] mask = in[1].contiguous().toArray();
        try (AutoCloseable mode = call.recording() ? EnableGrad.enter() : NoGrad.enter()) {
            Var x = leaf(in[0], call);
            Var w = leaf(in[2], call);
            Var gate = leaf(in[3], call);
            Var up = leaf(in[4], call);
            Var down = leaf(in[5], call);
            Var out = Var.of(Tensor.zeros(n, in[5].dim(1)));
            for (int e = 0; e < experts; e++) {
                int[] rows = rowsOf(mask, n, experts, e);
                if (rows.length > 0) {
                    Var xs = x.indexSelect(0, rows);
                    Var z = Composites.siluMul(xs.matmul(gate.select(0, e).t()), xs.matmul(up.select(0, e).t()));
                    Var y = z.matmul(down.select(0, e).t());
                    out = out.indexAdd(0, rows, y.mul(w.select(1, e).indexSelect(0, rows).unsqueeze(1)));
                }
            }
            if (call.recording()) {
                call.save(new Saved(new Var[] {x, w, gate, up, down}, out));
            }
            return out.data();
        } catch (Exception e) {
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
    }

    @Override
    public Tensor[] backward(Call<Void> call, Tensor y, Tensor dy, boolean[] needs) {
        Saved s = (Saved) call.saved();
        if (s.out().requiresGrad()) {
            try (EnableGrad eg = EnableGrad.enter()) {
                s.out().backward(dy, false);
            }
        }
        int[] input = {0, 2, 3, 4, 5};
        Tensor[] grads = new Tensor[6];
        for (int i = 0; i < input.length; i++) {
            int at = input[i];
            if (needs[at]) {
                Tensor g = s.leaves()[i].grad();
                grads[at] = g != null ? g : Tensor.zeros(call.input(at).shape());
            }
        }
        if (needs[1]) {
            grads[1] = Tensor.zeros(call.input(1).shape()); // the mask is not differentiated
        }
        return grads;
    }

    private static Var leaf(Tensor t, Call<Void> call) {
        return call.recording() ? Var.param(t) : Var.of(t);
    }

    /** The rows r with mask[r, e] != 0, ascending. */
    private static int[] rowsOf(float[] mask, int n, int experts, int e) {
        int count = 0;
        for (int r = 0; r < n; r++) {
            count += mask[r * experts + e] != 0f ? 1 : 0;
        }
        int[] rows = new int[count];
        for (int r = 0, j = 0; r < n; r++) {
            if (mask[r * experts + e] != 0f) {
                rows[j++] = r;
            }
        }
        return rows;
    }
}
