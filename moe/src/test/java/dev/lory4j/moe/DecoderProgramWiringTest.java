package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.Kernel;
import dev.lory4j.autograd.composite.KernelProvider;
import dev.lory4j.autograd.composite.Kernels;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.DecoderProgram;
import dev.lory4j.autograd.nn.DecoderSpec;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How a model hands itself to a backend's whole-decoder program ({@link KernelProvider#decoder}, interim until the
 * captured step is compiled): the spec and the parameters
 * in {@link DecoderSpec}'s order, the loss as one op whose backward pass gives each parameter the program's gradient,
 * and the op-by-op path whenever a layer cannot be part of a program (a trace attached) or programs are off.
 */
class DecoderProgramWiringTest {
    private static final int B = 2;
    private static final int L = 8;

    /** A provider for a CPU backend under another name whose program records what it got and answers known values. */
    private static final class Recording implements KernelProvider {
        final Backend backend = new DelegatingBackend(new CpuBackend(), "recording");
        DecoderSpec spec;
        Tensor[] params;
        int calls;

        @Override
        public Map<String, Kernel<?>> kernels(Backend b) {
            return Map.of();
        }

        @Override
        public boolean hasDecoder(Backend b) {
            return b == backend;
        }

        @Override
        public DecoderProgram decoder(Backend b, DecoderSpec spec, Tensor[] params, Tensor cos, Tensor sin, int batch,
                                      int seqLen, int ignoreIndex) {
            this.spec = spec;
            this.params = params;
            calls++;
            assertThat(cos.shape()).containsExactly(seqLen, spec.headDim());
            int[][] shapes = spec.parameterShapes();
            assertThat(params).hasSize(shapes.length);
            for (int i = 0; i < shapes.length; i++) {
                assertThat(params[i].shape()).as("parameter %d", i).isEqualTo(shapes[i]);
            }
            return new DecoderProgram() {
                @Override
                public float loss(int[] tokens, int[] targets) {
                    return 2.5f;
                }

                @Override
                public Tensor[] grads(int[] tokens, int[] targets, float g) {
                    Tensor[] out = new Tensor[params.length];
                    for (int i = 0; i < out.length; i++) {
                        out[i] = Tensor.zeros(params[i].shape());
                        out[i].fill(g * (i + 1));
                    }
                    return out;
                }
            };
        }
    }

    private final Backend before = Backends.current();
    private final Recording r = new Recording();

    @AfterEach
    void restore() {
        Kernels.unregister(r);
        Backends.use(before);
        System.clearProperty("lory4j.decoderProgram");
    }

    /** Lory with a router bias in layer 1 only, dense layer 0, tied embeddings. */
    private static MoeModel model() {
        DecoderConfig c = new DecoderConfig(19, 8, 2, 2, 12, 1e-5f, 10000, true, 32, 0.1f, false);
        return new MoeModel(new MoeConfig(c, MoeKind.LORY, 3, 4, List.of(1), true, 1, RoutingMode.PROMPT_ONLY, 0.5f,
                0.01f, 1f), new Rng(2));
    }

    private static Var loss(MoeModel model) {
        int[] x = new int[B * L];
        int[] y = new int[B * L];
        for (int i = 0; i < x.length; i++) {
            x[i] = (3 * i) % 19;
            y[i] = (5 * i + 1) % 19;
        }
        return model.loss(x, y, B, L, -100);
    }

    @Test
    void theModelHandsItsSpecAndParametersInOrderAndGetsTheProgramsGradients() {
        Kernels.register(r);
        Backends.use(r.backend);
        MoeModel model = model();
        Var loss = loss(model);
        assertThat(loss.item()).isEqualTo(2.5f);
        assertThat(r.spec.layers()).containsExactly(DecoderSpec.FeedForward.DENSE,
                new DecoderSpec.FeedForward(3, 4, true));
        assertThat(r.spec.tied()).isTrue();
        Map<String, Var> named = model.lm().namedParameters();
        String l0 = "model.layers.0.";
        String l1 = "model.layers.1.";
        List<String> order = new ArrayList<>(List.of("model.embed_tokens.weight"));
        for (String l : List.of(l0, l1)) {
            order.add(l + "input_layernorm.weight");
            for (String p : List.of("q", "k", "v", "o")) {
                order.add(l + "self_attn." + p + "_proj.weight");
            }
            order.add(l + "post_attention_layernorm.weight");
        }
        order.addAll(7, List.of(l0 + "mlp.gate_proj.weight", l0 + "mlp.up_proj.weight", l0 + "mlp.down_proj.weight"));
        order.addAll(List.of(l1 + "mlp.router.weight", l1 + "mlp.router.bias", l1 + "mlp.experts.gate_proj",
                l1 + "mlp.experts.up_proj", l1 + "mlp.experts.down_proj", "model.norm.weight"));
        assertThat(named.keySet()).containsExactlyInAnyOrderElementsOf(order); // every parameter, once
        for (int i = 0; i < order.size(); i++) {
            assertThat(r.params[i]).as(order.get(i)).isSameAs(named.get(order.get(i)).data());
        }
        loss.mul(Var.of(Tensor.scalar(3f))).backward();
        for (int i = 0; i < order.size(); i++) {
            assertThat(named.get(order.get(i)).grad().toArray()).as(order.get(i)).containsOnly(3f * (i + 1));
        }
    }

    @Test
    void aTracedLayerOrProgramsTurnedOffRunOpByOp() {
        Kernels.register(r);
        Backends.use(r.backend);
        MoeModel model = model();
        model.setTrace(new RoutingTrace());
        float opByOp = loss(model).item();
        assertThat(r.calls).isZero();
        assertThat(opByOp).isNotEqualTo(2.5f);
        model.setTrace(null);
        assertThat(loss(model).item()).isEqualTo(2.5f);
        assertThat(r.calls).isEqualTo(1);
        System.setProperty("lory4j.decoderProgram", "false");
        assertThat(loss(model).item()).isEqualTo(opByOp);
        assertThat(r.calls).isEqualTo(1);
    }
}
