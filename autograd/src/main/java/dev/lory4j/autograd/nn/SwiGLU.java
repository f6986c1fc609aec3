package dev.lory4j.autograd.nn;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DecoderSpec;
import java.util.List;

/** The LLaMA feed-forward block: down(silu(gate(x)) * up(x)), no biases. */
public final class SwiGLU extends Layer {
    private final Linear gate;
    private final Linear up;
    private final Linear down;

    /** A block hidden -> intermediate -> hidden; {@code downStd} lets output projections use a scaled init. */
    public SwiGLU(int hidden, int intermediate, float std, float downStd, Rng rng) {
        this.gate = registerModule("gate_proj", new Linear(hidden, intermediate, false, std, rng));
        this.up = registerModule("up_proj", new Linear(hidden, intermediate, false, std, rng));
        this.down = registerModule("down_proj", new Linear(intermediate, hidden, false, downStd, rng));
    }

    /**
     * down(silu(gate(x)) * up(x)): composed autograd ops on the CPU backend; on another backend one op,
     * {@link #fused}, so a device backend keeps the intermediates on its device.
     */
    @Override
    public Var forward(Var x) {
        if (Backends.current() instanceof CpuBackend) {
            return down.forward(gate.forward(x).silu().mul(up.forward(x)));
        }
        return fused(x, gate.weight(), up.weight(), down.weight());
    }

    /**
     * The block as one differentiable op through the backend's {@link Backend#swiGlu} and
     * {@link Backend#swiGluGrads}: x [..., d], gate and up weights [f, d], down weight [d', f].
     */
    public static Var fused(Var x, Var w1, Var w3, Var w2) {
        Tensor xt = x.data();
        Tensor t1 = w1.data();
        Tensor t3 = w3.data();
        Tensor t2 = w2.data();
        Tensor y = Backends.current().swiGlu(xt, t1, t3, t2);
        return Var.custom("swiGlu", y, new Var[] {x, w1, w3, w2},
                (g, needs) -> Backends.current().swiGluGrads(xt, g, t1, t3, t2));
    }

    @Override
    public DecoderSpec.FeedForward deviceForm() {
        return DecoderSpec.FeedForward.DENSE;
    }

    @Override
    public List<Var> deviceParams() {
        return List.of(gate.weight(), up.weight(), down.weight());
    }

    /** gate_proj [intermediate, hidden]. */
    public Linear gate() {
        return gate;
    }

    /** up_proj [intermediate, hidden]. */
    public Linear up() {
        return up;
    }

    /** down_proj [hidden, intermediate]. */
    public Linear down() {
        return down;
    }
}
