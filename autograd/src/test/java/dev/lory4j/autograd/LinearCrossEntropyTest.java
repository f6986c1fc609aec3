package dev.lory4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The language-model head and its loss as one composite op ({@link Var#linearCrossEntropy}): the same loss and
 * gradients as the logits followed by the cross-entropy, on the CPU and on another backend, finite differences, and
 * errors.
 */
class LinearCrossEntropyTest {

    /** Computes with the CPU backend but registers no kernels, so composite ops take their reference. */
    private static Backend other() {
        return new DelegatingBackend(new CpuBackend(), "other");
    }

    @org.junit.jupiter.api.Test
    void sameLossAndGradientsAsLogitsThenCrossEntropy() {
        Rng rng = new Rng(51);
        Tensor x = rng.normal(0f, 1f, 2, 7, 6); // 14 rows, 11 classes: odd sizes
        Tensor w = rng.normal(0f, 0.5f, 11, 6);
        int[] targets = new int[14];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % 5 == 3 ? -100 : rng.nextInt(11); // some rows skipped
        }
        for (Backend backend : new Backend[] {new CpuBackend(), other()}) {
            Backend before = Backends.current();
            Backends.use(backend);
            try {
                Var[] fused = {Var.param(x), Var.param(w)};
                Var loss = fused[0].linearCrossEntropy(fused[1], targets, -100);
                loss.backward();
                Var[] comp = {Var.param(x), Var.param(w)};
                Var want = comp[0].linear(comp[1]).crossEntropy(targets, -100);
                want.backward();
                assertThat(loss.item()).isCloseTo(want.item(), org.assertj.core.data.Offset.offset(1e-6f));
                for (int i = 0; i < 2; i++) {
                    assertThat(fused[i].grad().relativeErrorTo(comp[i].grad())).as("%s input %d", backend.name(), i)
                            .isLessThan(1e-5);
                }
            } finally {
                Backends.use(before);
            }
        }
        GradCheck.check("linearCrossEntropy", v -> v[0].linearCrossEntropy(v[1], new int[] {2, -100, 0, 4}, -100),
                rng.normal(0f, 1f, 4, 3), rng.normal(0f, 1f, 5, 3));
    }

    @ParameterizedTest(name = "tied={0}")
    @ValueSource(booleans = {false, true})
    void aLanguageModelsLossOnAnotherBackendEqualsTheCpus(boolean tied) {
        DecoderConfig c = new DecoderConfig(19, 8, 1, 2, 12, 1e-5f, 10000, tied, 32, 0.2f, false);
        int[] tokens = new int[2 * 9];
        int[] targets = new int[tokens.length];
        Rng rng = new Rng(52);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rng.nextInt(19);
            targets[i] = i == 4 ? -100 : rng.nextInt(19);
        }
        float[] losses = new float[2];
        Tensor[] headGrads = new Tensor[2];
        Backend[] backends = {new CpuBackend(), other()};
        for (int b = 0; b < 2; b++) {
            Backend before = Backends.current();
            Backends.use(backends[b]);
            try {
                DecoderLM lm = new DecoderLM(c, new Rng(53));
                Var loss = lm.loss(tokens, targets, 2, 9, -100);
                loss.backward();
                losses[b] = loss.item();
                headGrads[b] = lm.namedParameters().get(tied ? "model.embed_tokens.weight" : "lm_head.weight").grad();
            } finally {
                Backends.use(before);
            }
        }
        assertThat(losses[1]).isCloseTo(losses[0], org.assertj.core.data.Offset.offset(1e-5f * losses[0]));
        assertThat(headGrads[1].relativeErrorTo(headGrads[0])).isLessThan(1e-5);
    }

    @org.junit.jupiter.api.Test
    void badTargetsAndShapesNameTheOp() {
        Var x = Var.of(Tensor.zeros(3, 4));
        assertThatThrownBy(() -> x.linearCrossEntropy(Var.of(Tensor.zeros(5, 4)), new int[] {0, 5, 1}, -100))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("linearCrossEntropy: target 5");
        assertThatThrownBy(() -> x.linearCrossEntropy(Var.of(Tensor.zeros(5, 3)), new int[] {0, 1, 2}, -100))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x [3,4], W [5,3]");
        assertThatThrownBy(() -> x.linearCrossEntropy(Var.of(Tensor.zeros(5, 4)), new int[] {0, 1}, -100))
                .hasMessageContaining("linearCrossEntropy").hasMessageContaining("2 targets");
    }
}
