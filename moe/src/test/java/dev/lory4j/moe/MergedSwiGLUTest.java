package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The fused merge + SwiGLU op against the same equations written with autograd ops, and by finite differences. */
class MergedSwiGLUTest {

    /** The reference: spec §3.2 merge as autograd products, then the SwiGLU of every segment as batched matmuls. */
    private static Var reference(Var h, Var w, ExpertBank bank) {
        Var gate = ExpertMerge.merge(w, bank.gate());
        Var up = ExpertMerge.merge(w, bank.up());
        Var down = ExpertMerge.merge(w, bank.down());
        Var z = h.matmul(gate.transpose(-1, -2)).silu().mul(h.matmul(up.transpose(-1, -2)));
        return z.matmul(down.transpose(-1, -2));
    }

    /** y, then the gradients of h, w, gate, up, down for upstream gradient g; clears the bank's gradients. */
    private static Tensor[] run(boolean fused, MergedSwiGLU.Buffer keep, Tensor h, Tensor w, ExpertBank bank,
                                Tensor g) {
        Var hv = Var.param(h);
        Var wv = Var.param(w);
        Var y = fused ? MergedSwiGLU.apply(hv, wv, bank, keep) : reference(hv, wv, bank);
        y.backward(g, false);
        Tensor[] out = {y.data(), hv.grad(), wv.grad(), bank.gate().grad(), bank.up().grad(), bank.down().grad()};
        for (Var p : bank.parameters()) {
            p.zeroGrad();
        }
        return out;
    }

    private static void assertClose(Tensor[] actual, Tensor[] expected) {
        String[] names = {"y", "dh", "dw", "dgate", "dup", "ddown"};
        for (int i = 0; i < names.length; i++) {
            assertThat(actual[i].shape()).as(names[i]).isEqualTo(expected[i].shape());
            assertThat(actual[i].relativeErrorTo(expected[i])).as(names[i]).isLessThan(1e-6);
        }
    }

    // Odd sizes for loop tails; the second and third take the packed GEMM paths (more than 16 rows).
    @ParameterizedTest
    @CsvSource({"3, 5, 7, 11, 3", "19, 23, 9, 13, 5", "17, 20, 33, 70, 8"})
    void matchesTheAutogradOpsWithKeptAndRecomputedWeights(int s, int t, int d, int di, int e) {
        Rng rng = new Rng(7L * s + t);
        ExpertBank bank = new ExpertBank(e, d, di, 0.3f, 0.3f, rng);
        Tensor h = rng.normal(0f, 1f, s, t, d);
        Tensor w = rng.normal(0f, 1f, s, e).softmax(-1);
        Tensor g = rng.normal(0f, 1f, s, t, d);
        Tensor[] expected = run(false, null, h, w, bank, g);
        assertClose(run(true, new MergedSwiGLU.Buffer(), h, w, bank, g), expected);
        assertClose(run(true, null, h, w, bank, g), expected);
    }

    @Test
    void aKeptBufferOverwrittenBeforeTheBackwardPassIsMergedAgain() {
        Rng rng = new Rng(3);
        ExpertBank bank = new ExpertBank(4, 6, 10, 0.3f, 0.3f, rng);
        Tensor h1 = rng.normal(0f, 1f, 5, 7, 6);
        Tensor w1 = rng.normal(0f, 1f, 5, 4).softmax(-1);
        Tensor g = rng.normal(0f, 1f, 5, 7, 6);
        Tensor[] expected = run(false, null, h1, w1, bank, g);

        MergedSwiGLU.Buffer keep = new MergedSwiGLU.Buffer();
        Var hv = Var.param(h1);
        Var wv = Var.param(w1);
        Var y1 = MergedSwiGLU.apply(hv, wv, bank, keep);
        // A second training pass (other weights, fewer segments: written in place) and an inference pass.
        MergedSwiGLU.apply(Var.param(rng.normal(0f, 1f, 4, 7, 6)), Var.param(rng.normal(0f, 1f, 4, 4)), bank, keep);
        try (NoGrad ng = NoGrad.enter()) {
            MergedSwiGLU.apply(Var.of(rng.normal(0f, 1f, 5, 7, 6)), Var.of(rng.normal(0f, 1f, 5, 4)), bank, keep);
        }
        for (Var p : bank.parameters()) {
            p.zeroGrad();
        }
        y1.backward(g, false);
        assertClose(new Tensor[] {y1.data(), hv.grad(), wv.grad(), bank.gate().grad(), bank.up().grad(),
            bank.down().grad()}, expected);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (boolean kept : new boolean[] {true, false}) {
            Rng rng = new Rng(kept ? 11 : 12);
            ExpertBank bank = new ExpertBank(3, 5, 7, 0.5f, 0.5f, rng);
            Var h = Var.param(rng.normal(0f, 1f, 2, 3, 5));
            Var w = Var.param(rng.normal(0f, 1f, 2, 3).softmax(-1));
            Map<String, Var> params = new LinkedHashMap<>(bank.namedParameters());
            params.put("h", h);
            params.put("w", w);
            MergedSwiGLU.Buffer keep = kept ? new MergedSwiGLU.Buffer() : null;
            GradCheck.checkParameters("merged SwiGLU, kept=" + kept, GradCheck.Options.defaults(), params,
                    () -> MergedSwiGLU.apply(h, w, bank, keep));
        }
    }

    /** Output and every parameter gradient of one forward/backward pass of the layer on {@code backend}. */
    private static Tensor[] layerPass(dev.lory4j.tensor.spi.Backend backend, LoryLayer layer, Tensor x, Tensor g) {
        dev.lory4j.tensor.spi.Backend before = dev.lory4j.tensor.spi.Backends.current();
        dev.lory4j.tensor.spi.Backends.use(backend);
        try {
            Var xv = Var.param(x);
            Var y = layer.forward(xv);
            y.backward(g, false);
            java.util.List<Tensor> out = new java.util.ArrayList<>(java.util.List.of(y.data(), xv.grad()));
            for (Var p : layer.parameters()) {
                out.add(p.grad());
                p.zeroGrad();
            }
            return out.toArray(Tensor[]::new);
        } finally {
            dev.lory4j.tensor.spi.Backends.use(before);
        }
    }

    @Test
    void onAnotherBackendTheLayerRunsTheComposedOpsWithTheSameResults() {
        Rng rng = new Rng(21);
        LoryLayer layer = new LoryLayer(0, 12, 20, 4, 5, false, 0.3f, 0.3f, 0.5f, rng);
        Tensor x = rng.normal(0f, 1f, 2, 13, 12); // 3 segments, the last one short
        Tensor g = rng.normal(0f, 1f, 2, 13, 12);
        Tensor[] fused = layerPass(new dev.lory4j.tensor.CpuBackend(), layer, x, g);
        Tensor[] composed = layerPass(new dev.lory4j.tensor.spi.DelegatingBackend(new dev.lory4j.tensor.CpuBackend(), "other"),
                layer, x, g);
        assertThat(composed).hasSameSizeAs(fused);
        for (int i = 0; i < fused.length; i++) {
            assertThat(composed[i].relativeErrorTo(fused[i])).as("tensor %d", i).isLessThan(1e-5);
        }
    }
}
