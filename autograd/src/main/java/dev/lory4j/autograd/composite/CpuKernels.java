package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import java.util.Map;

/**
 * The CPU backend's fused kernels: attention whose backward reuses the forward's probabilities (the causal mask
 * applied inside the softmax kernel, the scale on q), and the Lory feed-forward block ({@link CpuMergedSwiGlu}).
 * Every other composite runs its reference decomposition on the CPU.
 */
final class CpuKernels implements KernelProvider {
    static final CpuKernels INSTANCE = new CpuKernels();

    @Override
    public Map<String, Kernel<?>> kernels(Backend backend) {
        if (!backend.name().equals("cpu")) {
            return Map.of();
        }
        return Map.of(Composites.ATTENTION.name(), new AttentionKernel(),
                Composites.MERGED_SWIGLU.name(), new CpuMergedSwiGlu());
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
