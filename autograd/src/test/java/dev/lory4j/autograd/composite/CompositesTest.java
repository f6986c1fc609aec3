package dev.lory4j.autograd.composite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.GradCheck;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.DelegatingBackend;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The composite ops: every reference decomposition against finite differences, the CPU's registered kernels against
 * the references, dispatch (a backend without kernels runs the references), and the checks that name the op.
 */
class CompositesTest {
    private final Backend before = Backends.current();

    @AfterEach
    void restore() {
        Backends.use(before);
    }

    @Test
    void everyReferenceMatchesFiniteDifferences() {
        Rng rng = new Rng(5);
        for (CompositeCheck.Example<?> ex : CompositeCheck.examples(rng)) {
            referenceGradCheck(ex);
        }
    }

    private static <A> void referenceGradCheck(CompositeCheck.Example<A> ex) {
        // float32 central differences on O(1) values: GradCheck's default tolerances
        // A routing mask is an input that is not differentiated: it stays a constant of the check.
        String[] names = ex.op().inputNames();
        int[] varied = java.util.stream.IntStream.range(0, names.length).filter(i -> !names[i].equals("mask")).toArray();
        Kernels.withoutKernels(() -> {
            GradCheck.check(ex.describe(), v -> {
                Var[] all = new Var[names.length];
                for (int i = 0; i < all.length; i++) {
                    all[i] = Var.of(ex.inputs()[i]);
                }
                for (int j = 0; j < varied.length; j++) {
                    all[varied[j]] = v[j];
                }
                return ex.op().reference(ex.args(), all);
            }, java.util.Arrays.stream(varied).mapToObj(i -> ex.inputs()[i]).toArray(Tensor[]::new));
            return null;
        });
    }

    @Test
    void everyCompositeHasAnExample() {
        List<String> withExamples = CompositeCheck.examples(new Rng(1)).stream().map(e -> e.op().name()).toList();
        for (Composite<?> op : Composites.all()) {
            assertThat(withExamples).as(op.name()).contains(op.name());
        }
    }

    @Test
    void theCpuKernelsEqualTheReferences() {
        Backends.use(new CpuBackend());
        assertThat(Kernels.registered(Backends.current()).keySet()).containsExactlyInAnyOrder("attention",
                "crossEntropy", "mergedSwiGlu", "rope", "routedSwiGlu", "siluMul");
        assertThat(CompositeCheck.checkRegisteredKernels(1e-5, 17)).containsExactly("attention", "crossEntropy",
                "mergedSwiGlu", "rope", "routedSwiGlu", "siluMul");
    }

    @Test
    void aBackendWithoutKernelsRunsTheReferences() {
        Backends.use(new DelegatingBackend(new CpuBackend(), "plain"));
        // but the cross-entropy's host kernel, which every backend has (a captured step binds its targets)
        assertThat(Kernels.registered(Backends.current())).containsOnlyKeys("crossEntropy");
        for (CompositeCheck.Example<?> ex : CompositeCheck.examples(new Rng(9))) {
            CompositeCheck.Result r = CompositeCheck.check(ex, 1e-6, new Rng(10));
            assertThat(r.kernelRan()).as(ex.describe()).isEqualTo(ex.op() == Composites.CROSS_ENTROPY);
        }
    }

    @Test
    void aKernelThatDeclinesLeavesTheCallToTheReference() {
        Backend declining = new DelegatingBackend(new CpuBackend(), "declining");
        int[] asked = new int[1];
        Kernels.put(declining, Map.of("linear", new Kernel<Void>() {
            @Override
            public Tensor forward(Call<Void> call) {
                asked[0]++;
                return null;
            }

            @Override
            public Tensor[] backward(Call<Void> call, Tensor y, Tensor dy, boolean[] needs) {
                throw new AssertionError("no forward, no backward");
            }
        }));
        Backends.use(declining);
        Rng rng = new Rng(3);
        Var x = Var.param(rng.normal(0f, 1f, 3, 4));
        Var w = Var.param(rng.normal(0f, 1f, 5, 4));
        Var y = Composites.LINEAR.apply(null, x, w);
        assertThat(asked[0]).isEqualTo(1);
        assertThat(y.op()).isNotEqualTo("linear");
        y.sum().backward();
        assertThat(w.grad().relativeErrorTo(Tensor.ones(3, 5).t().matmul(x.data()))).isLessThan(1e-6);
        assertThat(y.data().relativeErrorTo(x.data().matmul(w.data().t()))).isLessThan(1e-7);
    }

    @Test
    void theMergedKernelKeepsItsWeightsInTheSiteAndMergesAgainWhenTheyWereOverwritten() {
        Backends.use(new CpuBackend());
        Rng rng = new Rng(3);
        Tensor gate = rng.normal(0f, 0.3f, 4, 10, 6);
        Tensor up = rng.normal(0f, 0.3f, 4, 10, 6);
        Tensor down = rng.normal(0f, 0.3f, 4, 6, 10);
        Tensor h1 = rng.normal(0f, 1f, 5, 7, 6);
        Tensor w1 = rng.normal(0f, 1f, 5, 4).softmax(-1);
        Tensor g = rng.normal(0f, 1f, 5, 7, 6);
        Composites.Merged keep = new Composites.Merged(false);
        Tensor[] in = {h1, w1, gate, up, down};
        boolean[] all = {true, true, true, true, true};
        Tensor[] want = Kernels.withoutKernels(() -> Composites.MERGED_SWIGLU.referenceBackward(in, keep, g, all));

        Site site = new Site();
        Var[] v = {Var.param(h1), Var.param(w1), Var.param(gate), Var.param(up), Var.param(down)};
        Var y1 = Composites.MERGED_SWIGLU.apply(site, keep, v);
        assertThat(y1.op()).isEqualTo("mergedSwiGlu");
        // A second training pass through the same site (other weights, fewer segments) and an inference pass.
        Composites.MERGED_SWIGLU.apply(site, keep, Var.param(rng.normal(0f, 1f, 4, 7, 6)),
                Var.param(rng.normal(0f, 1f, 4, 4)), v[2], v[3], v[4]);
        try (NoGrad ng = NoGrad.enter()) {
            Composites.MERGED_SWIGLU.apply(site, keep, Var.of(rng.normal(0f, 1f, 5, 7, 6)),
                    Var.of(rng.normal(0f, 1f, 5, 4)), v[2], v[3], v[4]);
        }
        for (Var p : v) {
            p.zeroGrad();
        }
        y1.backward(g, false);
        for (int i = 0; i < v.length; i++) {
            assertThat(v[i].grad().relativeErrorTo(want[i])).as("gradient %d", i).isLessThan(1e-5);
        }
    }

    @Test
    void callsThatDoNotFitNameTheOpAndTheShapes() {
        Var x = Var.of(Tensor.zeros(2, 5, 6));
        Var w = Var.of(Tensor.zeros(8, 6));
        Tensor table = Tensor.zeros(5, 4);
        assertThatThrownBy(() -> Composites.SELF_ATTENTION.apply(new Composites.SelfAttention(table, table, 2), x, w, w,
                Var.of(Tensor.zeros(8, 7)), Var.of(Tensor.zeros(6, 8)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("selfAttention: x [2,5,6]").hasMessageContaining("Wv [8,7]");
        assertThatThrownBy(() -> Composites.SELF_ATTENTION.apply(new Composites.SelfAttention(table, table, 4), x, w, w,
                w, Var.of(Tensor.zeros(6, 8)))).hasMessageContaining("4 heads"); // head size 2 needs tables [5, 2]
        assertThatThrownBy(() -> Composites.SWIGLU.apply(null, Var.of(Tensor.zeros(2, 4)), Var.of(Tensor.zeros(5, 4)),
                Var.of(Tensor.zeros(5, 3)), Var.of(Tensor.zeros(4, 5)))).hasMessageContaining("swiGlu")
                .hasMessageContaining("[5,3]");
        assertThatThrownBy(() -> Var.attention(Var.of(Tensor.zeros(2, 5, 4)), Var.of(Tensor.zeros(2, 7, 3)),
                Var.of(Tensor.zeros(2, 7, 6)), true, 1f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("attention: q [2,5,4], k [2,7,3]");
        assertThatThrownBy(() -> Var.attention(Var.of(Tensor.zeros(2, 5, 4)), Var.of(Tensor.zeros(2, 3, 4)),
                Var.of(Tensor.zeros(2, 3, 6)), true, 1f)).hasMessageContaining("Lq <= Lk");
        assertThatThrownBy(() -> Composites.MERGED_SWIGLU.apply(new Composites.Merged(false),
                Var.of(Tensor.zeros(3, 5, 7)), Var.of(Tensor.zeros(3, 4)), Var.of(Tensor.zeros(4, 11, 7)),
                Var.of(Tensor.zeros(4, 11, 7)), Var.of(Tensor.zeros(4, 11, 7))))
                .hasMessageContaining("mergedSwiGlu").hasMessageContaining("down [4,11,7]");
        assertThatThrownBy(() -> Composites.LINEAR.apply(null, Var.of(Tensor.zeros(3, 4)), Var.of(Tensor.zeros(5, 3))))
                .hasMessageContaining("linear: x [3,4] and W [5,3]");
        assertThatThrownBy(() -> Composites.LINEAR.apply(null, Var.of(Tensor.zeros(3, 4))))
                .hasMessageContaining("linear: 1 inputs given for 2 (x, weight)");
    }

    @Test
    void providersAreAskedOncePerBackendInstance() {
        Backend a = new DelegatingBackend(new CpuBackend(), "a");
        Map<String, Kernel<?>> first = Kernels.registered(a);
        assertThat(Kernels.registered(a)).isSameAs(first);
    }
}
