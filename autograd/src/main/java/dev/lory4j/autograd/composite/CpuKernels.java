package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.kernels.Attention;
import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Rotary;
import dev.lory4j.tensor.spi.Backend;
import java.util.Map;

/**
 * The CPU backend's fused kernels: attention (causal: blocked, never keeping the probabilities; see
 * {@link AttentionKernel}), the Lory feed-forward block ({@link CpuMergedSwiGlu}), the
 * token-level experts on their routed rows only ({@link CpuRoutedSwiGlu}), and the
 * cross-entropy as one log-softmax with the loss and its gradient summed on the host.
 * Every other composite runs its reference decomposition on the CPU. The cross-entropy kernel is every backend's
 * (computed on the host there), so that a step captured on any backend replays with its new targets.
 */
final class CpuKernels implements KernelProvider {
    static final CpuKernels INSTANCE = new CpuKernels();

    @Override
    public Map<String, Kernel<?>> kernels(Backend backend) {
        if (!backend.name().equals("cpu")) {
            // The cross-entropy's host kernel serves every backend: its targets are an argument that a captured step
            // binds as an input, while the reference builds its row mask from them on the host, which a trace freezes.
            return Map.of(Composites.CROSS_ENTROPY.name(), new CrossEntropyKernel());
        }
        return Map.of(Composites.ATTENTION.name(), new AttentionKernel(),
                Composites.SILU_MUL.name(), new SiluMulKernel(),
                Composites.ROPE.name(), new RopeKernel(),
                Composites.MERGED_SWIGLU.name(), new CpuMergedSwiGlu(),
                Composites.ROUTED_SWIGLU.name(), new CpuRoutedSwiGlu(),
                Composites.CROSS_ENTROPY.name(), new CrossEntropyKernel());
    }

    /** RoPE by {@link Rotary}: rows read in place from a strided u (the heads' views), one pass each way. */
    static final class RopeKernel implements Kernel<Void> {
        @Override
        public Tensor forward(Call<Void> call) {
            Tensor u = call.input(0);
            if (u.strides()[u.rank() - 1] != 1) {
                u = u.contiguous();
            }
            int d = u.dim(-1);
            Tensor cos = call.input(1).contiguous();
            Tensor sin = call.input(2).contiguous();
            Tensor out = Tensor.empty(u.shape());
            Rotary.forward(u.data(), rowStarts(u), u.dim(-2), d, cos.data(), cos.offset(), sin.data(), sin.offset(),
                    out.data(), out.offset());
            return out;
        }

        @Override
        public Tensor[] backward(Call<Void> call, Tensor y, Tensor dy, boolean[] needs) {
            // the tables' gradients (never needed in training: they are constants) come from the reference
            Tensor[] grads = needs[1] || needs[2]
                    ? call.referenceBackward(dy, new boolean[] {false, needs[1], needs[2]}) : new Tensor[3];
            if (needs[0]) {
                Tensor g = dy.contiguous();
                Tensor cos = call.input(1).contiguous();
                Tensor sin = call.input(2).contiguous();
                Tensor du = Tensor.empty(g.shape());
                int d = g.dim(-1);
                Rotary.backward(g.data(), g.offset(), g.numel() / d, g.dim(-2), d, cos.data(), cos.offset(),
                        sin.data(), sin.offset(), du.data(), du.offset());
                grads[0] = du;
            }
            return grads;
        }

        /** Where each row (last axis) of t starts in its array, rows in row-major order of the leading axes. */
        private static int[] rowStarts(Tensor t) {
            int rank = t.rank();
            int[] shape = t.shape();
            int[] strides = t.strides();
            int rows = t.numel() / shape[rank - 1];
            int[] starts = new int[rows];
            int[] index = new int[rank - 1];
            int at = t.offset();
            for (int r = 0; r < rows; r++) {
                starts[r] = at;
                for (int axis = rank - 2; axis >= 0; axis--) { // odometer over the leading axes
                    at += strides[axis];
                    if (++index[axis] < shape[axis]) {
                        break;
                    }
                    at -= strides[axis] * shape[axis];
                    index[axis] = 0;
                }
            }
            return starts;
        }
    }

    /** silu(a) ⊙ b and its two gradients, one pass over memory each ({@link Elementwise#siluMul}). */
    static final class SiluMulKernel implements Kernel<Void> {
        @Override
        public Tensor forward(Call<Void> call) {
            Tensor a = call.input(0).contiguous();
            Tensor b = call.input(1).contiguous();
            Tensor out = Tensor.empty(a.shape());
            Elementwise.siluMul(a.data(), a.offset(), b.data(), b.offset(), out.data(), out.offset(), a.numel());
            if (call.recording()) {
                call.save(new Tensor[] {a, b});
            }
            return out;
        }

        @Override
        public Tensor[] backward(Call<Void> call, Tensor y, Tensor dy, boolean[] needs) {
            Tensor[] ab = (Tensor[]) call.saved();
            Tensor g = dy.contiguous();
            Tensor da = needs[0] ? Tensor.empty(ab[0].shape()) : null;
            Tensor db = needs[1] ? Tensor.empty(ab[1].shape()) : null;
            Elementwise.siluMulBackward(ab[0].data(), ab[0].offset(), ab[1].data(), ab[1].offset(), g.data(), g.offset(),
                    da == null ? null : da.data(), da == null ? 0 : da.offset(), db == null ? null : db.data(),
                    db == null ? 0 : db.offset(), ab[0].numel());
            return new Tensor[] {da, db};
        }
    }

    /** log-softmax, then the mean over kept rows of −log p[target]; backward p − onehot, scaled, on kept rows. */
    static final class CrossEntropyKernel implements Kernel<Composites.Targets> {
        private record Saved(Tensor lsm, float[] rowWeight, int count) {}

        @Override
        public Tensor forward(Call<Composites.Targets> call) {
            Tensor z = call.input(0);
            int[] targets = call.args().targets();
            int v = z.dim(-1);
            int n = z.numel() / v;
            Tensor lsm = z.reshape(n, v).logSoftmax(1);
            float[] l = lsm.data();
            int base = lsm.offset();
            double total = 0;
            int count = 0;
            float[] rowWeight = new float[n];
            for (int i = 0; i < n; i++) {
                if (targets[i] != call.args().ignoreIndex()) {
                    total -= l[base + i * v + targets[i]];
                    count++;
                    rowWeight[i] = 1;
                }
            }
            call.save(new Saved(lsm, rowWeight, count));
            return Tensor.scalar(count == 0 ? Float.NaN : (float) (total / count));
        }

        @Override
        public Tensor[] backward(Call<Composites.Targets> call, Tensor y, Tensor g, boolean[] needs) {
            Saved sv = (Saved) call.saved();
            int[] targets = call.args().targets();
            int n = sv.rowWeight().length;
            int v = sv.lsm().dim(1);
            float scale = g.item() / sv.count();
            Tensor p = sv.lsm().exp().mul(Tensor.wrap(sv.rowWeight(), n, 1)).mul(scale);
            float[] pd = p.data();
            for (int i = 0; i < n; i++) {
                if (sv.rowWeight()[i] != 0) {
                    pd[i * v + targets[i]] -= scale;
                }
            }
            return new Tensor[] {p.reshape(call.input(0).shape())};
        }
    }

    /**
     * Causal attention by {@link Attention} (query blocks against the keys they see, the probabilities recomputed
     * in the backward pass from one log-denominator per query: nothing of size [.., Lq, Lk] is kept); without the
     * mask, s = (scale · q) kᵀ, p = softmax(s), out = p v with p kept.
     */
    static final class AttentionKernel implements Kernel<Composites.Attention> {
        @Override
        public Tensor forward(Call<Composites.Attention> call) {
            Composites.Attention a = call.args();
            if (a.causal()) {
                Heads q = Heads.of(call.input(0));
                Heads k = Heads.of(call.input(1));
                Heads v = Heads.of(call.input(2));
                int[] shape = call.input(0).shape();
                int lq = shape[shape.length - 2];
                int lk = call.input(1).dim(-2);
                int dv = call.input(2).dim(-1);
                shape[shape.length - 1] = dv;
                Tensor out = Tensor.empty(shape);
                float[] lse = new float[q.base.length * lq];
                Attention.causalForward(q.base.length, lq, lk, call.input(0).dim(-1), dv, a.scale(), q.data, q.base,
                        q.ld, k.data, k.base, k.ld, v.data, v.base, v.ld, out.data(), out.offset(), lse);
                call.save(lse);
                return out;
            }
            Tensor s = call.input(0).mul(a.scale()).matmul(call.input(1).transpose(-1, -2));
            Tensor p = s.softmax(-1);
            call.save(p);
            return p.matmul(call.input(2));
        }

        @Override
        public Tensor[] backward(Call<Composites.Attention> call, Tensor y, Tensor g, boolean[] needs) {
            Tensor q = call.input(0);
            Tensor k = call.input(1);
            Tensor v = call.input(2);
            if (call.args().causal()) {
                Heads hq = Heads.of(q);
                Heads hk = Heads.of(k);
                Heads hv = Heads.of(v);
                Heads hg = Heads.of(g);
                Tensor out = y.contiguous();
                Tensor dq = Tensor.empty(q.shape());
                Tensor dk = Tensor.empty(k.shape());
                Tensor dv = Tensor.empty(v.shape());
                Attention.causalBackward(hq.base.length, q.dim(-2), k.dim(-2), q.dim(-1), v.dim(-1),
                        call.args().scale(), hq.data, hq.base, hq.ld, hk.data, hk.base, hk.ld, hv.data, hv.base, hv.ld,
                        out.data(), out.offset(), (float[]) call.saved(), hg.data, hg.base, hg.ld, dq.data(), dk.data(),
                        dv.data());
                return new Tensor[] {needs[0] ? dq : null, needs[1] ? dk : null, needs[2] ? dv : null};
            }
            Tensor p = (Tensor) call.saved();
            Tensor ds = p.softmaxBackward(g.matmul(v.transpose(-1, -2)), call.args().scale());
            return new Tensor[] {needs[0] ? ds.matmul(k) : null, needs[1] ? ds.transpose(-1, -2).matmul(q) : null,
                needs[2] ? p.transpose(-1, -2).matmul(g) : null};
        }
    }

    /**
     * A tensor [..., L, D] read as heads in place: head t (the leading axes in row-major order) starts at base[t], its
     * rows ld apart (a copy first only when its last axis is not contiguous).
     */
    private record Heads(float[] data, int[] base, int ld) {
        static Heads of(Tensor t) {
            int rank = t.rank();
            int[] st = t.strides();
            if (st[rank - 1] != 1 && t.dim(-1) > 1) {
                t = t.contiguous();
                st = t.strides();
            }
            int[] shape = t.shape();
            int heads = 1;
            for (int i = 0; i < rank - 2; i++) {
                heads *= shape[i];
            }
            int[] base = new int[heads];
            int[] idx = new int[Math.max(0, rank - 2)];
            for (int h = 0; h < heads; h++) {
                int off = t.offset();
                for (int i = 0; i < idx.length; i++) {
                    off += idx[i] * st[i];
                }
                base[h] = off;
                for (int i = idx.length - 1; i >= 0; i--) { // next multi-index, last axis fastest
                    if (++idx[i] < shape[i]) {
                        break;
                    }
                    idx[i] = 0;
                }
            }
            int ld = t.dim(-2) > 1 ? st[rank - 2] : t.dim(-1);
            return new Heads(t.data(), base, ld);
        }
    }
}
