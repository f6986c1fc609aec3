package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import java.util.Map;

/**
 * The CPU backend's fused kernels: attention whose backward reuses the forward's probabilities (the causal mask
 * applied inside the softmax kernel, the scale on q), the Lory feed-forward block ({@link CpuMergedSwiGlu}), the
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
                Composites.MERGED_SWIGLU.name(), new CpuMergedSwiGlu(),
                Composites.ROUTED_SWIGLU.name(), new CpuRoutedSwiGlu(),
                Composites.CROSS_ENTROPY.name(), new CrossEntropyKernel());
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

    /** s = (scale · q) kᵀ, p = softmax(s) (causal inside the kernel: no mask tensor), out = p v; p kept. */
    static final class AttentionKernel implements Kernel<Composites.Attention> {
        @Override
        public Tensor forward(Call<Composites.Attention> call) {
            Composites.Attention a = call.args();
            Tensor s = call.input(0).mul(a.scale()).matmul(call.input(1).transpose(-1, -2));
            Tensor p = a.causal() ? s.causalSoftmax() : s.softmax(-1);
            call.save(p);
            return p.matmul(call.input(2));
        }

        @Override
        public Tensor[] backward(Call<Composites.Attention> call, Tensor y, Tensor g, boolean[] needs) {
            Tensor q = call.input(0);
            Tensor k = call.input(1);
            Tensor v = call.input(2);
            Tensor p = (Tensor) call.saved();
            Tensor ds = p.softmaxBackward(g.matmul(v.transpose(-1, -2)), call.args().scale());
            return new Tensor[] {needs[0] ? ds.matmul(k) : null, needs[1] ? ds.transpose(-1, -2).matmul(q) : null,
                needs[2] ? p.transpose(-1, -2).matmul(g) : null};
        }
    }
}
