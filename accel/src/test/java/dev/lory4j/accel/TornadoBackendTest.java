package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import org.junit.jupiter.api.Test;

/** Runs on the TornadoVM device of the machine (PoCL's CPU device here); compares with the CPU backend. */
class TornadoBackendTest {
    private final TornadoBackend tornado = new TornadoBackend(0); // every supported op on the device
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void matmulMatchesTheCpuBackendOnRandomShapes() {
        Rng rng = new Rng(7);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64}, {100, 37, 129}, {130, 70, 65},
            {65, 129, 17}};
        for (int[] s : shapes) {
            Tensor a = rng.uniform(-1f, 1f, s[0], s[2]);
            Tensor b = rng.uniform(-1f, 1f, s[2], s[1]);
            Tensor want = cpu.matmul(a, b);
            Tensor got = tornado.matmul(a, b);
            // Both sum k float products; orders differ (sequential on the device, blocked with FMA on the CPU).
            assertThat(got.relativeErrorTo(want)).as("shape %s", java.util.Arrays.toString(s)).isLessThan(1e-5);
        }
        Tensor t = rng.uniform(-1f, 1f, 9, 4).t(); // a transposed view is made contiguous first
        Tensor b = rng.uniform(-1f, 1f, 9, 6);
        assertThat(tornado.matmul(t, b).relativeErrorTo(cpu.matmul(t, b))).isLessThan(1e-5);
    }

    @Test
    void elementwiseSoftmaxAndRmsNormMatchTheCpu() {
        Rng rng = new Rng(10);
        for (int[] shape : new int[][] {{7}, {3, 17}, {2, 5, 33}}) {
            Tensor a = rng.uniform(-2f, 2f, shape);
            Tensor b = rng.uniform(-2f, 2f, shape);
            for (dev.lory4j.tensor.BinaryOp op : new dev.lory4j.tensor.BinaryOp[] {
                dev.lory4j.tensor.BinaryOp.ADD, dev.lory4j.tensor.BinaryOp.SUB, dev.lory4j.tensor.BinaryOp.MUL}) {
                assertThat(tornado.binary(op, a, b).relativeErrorTo(cpu.binary(op, a, b))).as("%s", op).isLessThan(1e-6);
            }
            for (dev.lory4j.tensor.UnaryOp op : new dev.lory4j.tensor.UnaryOp[] {
                dev.lory4j.tensor.UnaryOp.EXP, dev.lory4j.tensor.UnaryOp.SILU}) {
                // device exp (OpenCL native) vs our polynomial: both within a few ulp of exp
                assertThat(tornado.unary(op, a).relativeErrorTo(cpu.unary(op, a))).as("%s", op).isLessThan(1e-5);
            }
            assertThat(tornado.softmax(a, a.rank() - 1, false).relativeErrorTo(cpu.softmax(a, a.rank() - 1, false)))
                    .isLessThan(1e-5);
            Tensor w = rng.uniform(0.5f, 1.5f, shape[shape.length - 1]);
            assertThat(tornado.rmsNorm(a, w, 1e-5f).relativeErrorTo(cpu.rmsNorm(a, w, 1e-5f))).isLessThan(1e-5);
        }
    }

    @Test
    void plansAreReusedPerShapeAndLinearLayersOffload() {
        Rng rng = new Rng(9);
        Tensor w = rng.uniform(-1f, 1f, 8, 5);
        for (int rep = 0; rep < 3; rep++) { // same shape, new values: the cached plan must see the new inputs
            Tensor x = rng.uniform(-1f, 1f, 2, 3, 8);
            assertThat(tornado.matmul(x, w).relativeErrorTo(cpu.matmul(x, w))).isLessThan(1e-5);
        }
        tornado.close();
    }

    @Test
    void gradientStepsOfATinyModelOnTheDeviceMatchTheCpu() {
        float[] cpuLosses = losses(cpu);
        float[] deviceLosses = losses(tornado);
        for (int i = 0; i < cpuLosses.length; i++) {
            // Different summation orders in the products: agreement to float rounding, not bit for bit.
            assertThat((double) deviceLosses[i]).as("step %d", i)
                    .isCloseTo(cpuLosses[i], org.assertj.core.data.Offset.offset(1e-4 * Math.abs(cpuLosses[i])));
        }
    }

    /** Three plain gradient steps of a tiny embedding-tanh-softmax model with every tensor op on {@code backend}. */
    private static float[] losses(Backend backend) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            dev.lory4j.tensor.Rng r = new Rng(11);
            int vocab = 16;
            int d = 8;
            int len = 6;
            Tensor emb = r.normal(0f, 0.3f, vocab, d);
            Tensor w1 = r.normal(0f, 0.3f, d, d);
            Tensor w2 = r.normal(0f, 0.3f, d, vocab);
            int[] tokens = {1, 5, 9, 2, 7, 3};
            float[] out = new float[3];
            for (int step = 0; step < 3; step++) {
                Tensor h = emb.indexSelect(0, tokens).matmul(w1).tanh();
                Tensor logits = h.matmul(w2);
                Tensor lsm = logits.logSoftmax(1);
                float loss = 0;
                for (int i = 0; i < len - 1; i++) {
                    loss -= lsm.get(i, tokens[i + 1]);
                }
                out[step] = loss / (len - 1);
                // a plain gradient step on w2 only, through the same backend
                Tensor p = lsm.exp();
                for (int i = 0; i < len - 1; i++) {
                    p.set(p.get(i, tokens[i + 1]) - 1f, i, tokens[i + 1]);
                }
                Tensor g = h.t().matmul(p).mul(1f / (len - 1));
                w2 = w2.sub(g.mul(0.5f));
            }
            return out;
        } finally {
            Backends.use(before);
        }
    }

    @Test
    void rowReductionsCausalSoftmaxSoftmaxBackwardAndLayerNormMatchTheCpu() {
        Rng rng = new Rng(16);
        for (int[] shape : new int[][] {{7}, {3, 17}, {2, 5, 33}}) {
            Tensor x = rng.uniform(-2f, 2f, shape);
            for (dev.lory4j.tensor.ReduceOp op : dev.lory4j.tensor.ReduceOp.values()) {
                for (boolean keep : new boolean[] {false, true}) {
                    Tensor want = cpu.reduce(op, x, new int[] {-1}, keep);
                    Tensor got = tornado.reduce(op, x, new int[] {x.rank() - 1}, keep);
                    assertThat(got.shape()).isEqualTo(want.shape());
                    assertThat(got.relativeErrorTo(want)).as("%s %s", op, java.util.Arrays.toString(shape))
                            .isLessThan(1e-5);
                }
            }
            Tensor y = cpu.softmax(x, x.rank() - 1, false);
            Tensor g = rng.normal(0f, 1f, shape);
            assertThat(tornado.softmaxBackward(y, g, 0.5f).relativeErrorTo(cpu.softmaxBackward(y, g, 0.5f)))
                    .isLessThan(1e-5);
            Tensor w = rng.uniform(0.5f, 1.5f, shape[shape.length - 1]);
            Tensor b = rng.uniform(-0.5f, 0.5f, shape[shape.length - 1]);
            assertThat(tornado.layerNorm(x, w, b, 1e-5f).relativeErrorTo(cpu.layerNorm(x, w, b, 1e-5f)))
                    .isLessThan(1e-5);
        }
        for (int[] shape : new int[][] {{5, 5}, {2, 3, 4, 9}, {1, 7, 7}}) { // Lq <= Lk, aligned to the last keys
            Tensor x = rng.uniform(-3f, 3f, shape);
            assertThat(tornado.causalSoftmax(x).relativeErrorTo(cpu.causalSoftmax(x))).as("%s",
                    java.util.Arrays.toString(shape)).isLessThan(1e-5);
        }
    }

    @Test
    void otherOperationsAndShapesFallBackToTheCpu() {
        Tensor x = new Rng(8).normal(0f, 1f, 2, 3, 4);
        assertThat(tornado.softmax(x, 0, false).toArray()).containsExactly(cpu.softmax(x, 0, false).toArray());
        assertThat(tornado.reduce(dev.lory4j.tensor.ReduceOp.SUM, x, new int[] {1}, false).toArray())
                .containsExactly(cpu.reduce(dev.lory4j.tensor.ReduceOp.SUM, x, new int[] {1}, false).toArray());
        assertThatThrownBy(() -> tornado.causalSoftmax(new Rng(1).normal(0f, 1f, 4, 3)))
                .hasMessageContaining("causalSoftmax"); // Lq > Lk: the CPU's error
        Tensor y = new Rng(9).normal(0f, 1f, 1, 4, 5); // a broadcast batch dimension
        assertThat(tornado.matmul(x, y).toArray()).containsExactly(cpu.matmul(x, y).toArray());
    }

    @Test
    void batchedProductsRunOnTheDeviceAndMatchTheCpu() {
        Rng rng = new Rng(12);
        int[][] shapes = {{3, 17, 33, 9}, {2, 70, 65, 130}, {5, 1, 7, 3}}; // batch, m, n, k
        for (int[] s : shapes) {
            Tensor a = rng.uniform(-1f, 1f, s[0], s[1], s[3]);
            Tensor b = rng.uniform(-1f, 1f, s[0], s[3], s[2]);
            assertThat(tornado.matmul(a, b).relativeErrorTo(cpu.matmul(a, b))).as("%s", java.util.Arrays.toString(s))
                    .isLessThan(1e-5);
        }
        Tensor a = rng.uniform(-1f, 1f, 2, 3, 6, 5); // two batch dimensions, a transposed view of b
        Tensor b = rng.uniform(-1f, 1f, 2, 3, 7, 5).transpose(-1, -2);
        assertThat(tornado.matmul(a, b).relativeErrorTo(cpu.matmul(a, b))).isLessThan(1e-5);
    }

    @Test
    void transposedOperandsAreReadWhereTheyLieAndMatchTheCpu() {
        Rng rng = new Rng(17);
        int[][] shapes = {{1, 3, 5, 7}, {1, 70, 65, 130}, {3, 17, 33, 9}, {2, 64, 64, 64}}; // batch, m, n, k
        for (int[] s : shapes) {
            for (int form = 0; form < 4; form++) { // a, aᵀ-stored, b, bᵀ-stored in every combination
                boolean ta = (form & 1) != 0;
                boolean tb = (form & 2) != 0;
                Tensor a = ta ? rng.uniform(-1f, 1f, s[0], s[3], s[1]).transpose(-1, -2)
                        : rng.uniform(-1f, 1f, s[0], s[1], s[3]);
                Tensor b = tb ? rng.uniform(-1f, 1f, s[0], s[2], s[3]).transpose(-1, -2)
                        : rng.uniform(-1f, 1f, s[0], s[3], s[2]);
                if (s[0] == 1) { // plain 2-D products
                    a = a.select(0, 0);
                    b = b.select(0, 0);
                }
                Tensor want = cpu.matmul(a, b);
                assertThat(tornado.matmul(a, b).relativeErrorTo(want))
                        .as("%s aT=%s bT=%s", java.util.Arrays.toString(s), ta, tb).isLessThan(1e-5);
            }
        }
    }

    @Test
    void residentParametersAreCopiedToTheDeviceOnlyWhenTheHostChangedThem() {
        Rng rng = new Rng(16);
        Tensor w = rng.uniform(-1f, 1f, 37, 70); // a Linear weight [out, in]
        w.storage().markResident();
        Tensor ref = Tensor.wrap(w.toArray(), 37, 70); // every host read of w counts as a possible write
        for (int rep = 0; rep < 3; rep++) { // forward x · Wᵀ and backward dy · W share one copy of W
            Tensor x = rng.uniform(-1f, 1f, 5, 70);
            Tensor dy = rng.uniform(-1f, 1f, 5, 37);
            assertThat(tornado.matmul(x, w.t()).relativeErrorTo(cpu.matmul(x, ref.t()))).isLessThan(1e-5);
            assertThat(tornado.matmul(dy, w).relativeErrorTo(cpu.matmul(dy, ref))).isLessThan(1e-5);
        }
        assertThat(tornado.residentUploads()).isEqualTo(1);
        long copied = tornado.bytesCopied();
        tornado.matmul(rng.uniform(-1f, 1f, 5, 70), w.t());
        assertThat(tornado.bytesCopied() - copied).isEqualTo(4L * 5 * (70 + 37)); // x in, y out; W stayed

        w.set(2.5f, 3, 4); // a host write through the tensor: the next product sees it
        ref = Tensor.wrap(w.toArray(), 37, 70);
        Tensor x = rng.uniform(-1f, 1f, 5, 70);
        assertThat(tornado.matmul(x, w.t()).relativeErrorTo(cpu.matmul(x, ref.t()))).isLessThan(1e-5);
        assertThat(tornado.residentUploads()).isEqualTo(2);

        float[] kept = w.data(); // a write through an array taken earlier, announced with touch()
        assertThat(tornado.matmul(x, w.t()).relativeErrorTo(cpu.matmul(x, ref.t()))).isLessThan(1e-5);
        kept[0] = -3f;
        w.storage().touch();
        ref = Tensor.wrap(w.toArray(), 37, 70);
        assertThat(tornado.matmul(x, w.t()).relativeErrorTo(cpu.matmul(x, ref.t()))).isLessThan(1e-5);
        assertThat(tornado.residentUploads()).isEqualTo(4);

        // an optimizer step changes W on the host: the following products use the new values
        Tensor g = rng.normal(0f, 1f, 37, 70);
        tornado.adamw(w, g, Tensor.zeros(37, 70), Tensor.zeros(37, 70), 1e-2f, 0.9f, 0.999f, 1e-8f, 0f, 0.1f, 0.001f);
        ref = Tensor.wrap(w.toArray(), 37, 70);
        Tensor x3 = rng.uniform(-1f, 1f, 2, 4, 70); // [batch, time, in]: one 8-row product, a new plan
        assertThat(tornado.matmul(x3, w.t()).relativeErrorTo(cpu.matmul(x3, ref.t()))).isLessThan(1e-5);
        long uploads = tornado.residentUploads();
        assertThat(tornado.matmul(x3, w.t()).relativeErrorTo(cpu.matmul(x3, ref.t()))).isLessThan(1e-5);
        assertThat(tornado.residentUploads()).isEqualTo(uploads);

        Tensor plain = rng.uniform(-1f, 1f, 37, 70); // not resident: copied with every product, never counted
        tornado.matmul(x, plain.t());
        assertThat(tornado.residentUploads()).isEqualTo(uploads);
        tornado.close();
    }

    @Test
    void theDefaultThresholdOffloadsOnlyWorkThatOutweighsItsCopies() {
        TornadoBackend byDefault = new TornadoBackend();
        Rng rng = new Rng(15);
        Tensor a = rng.uniform(-1f, 1f, 128, 128);
        Tensor b = rng.uniform(-1f, 1f, 128, 128);
        // an add moves 12 bytes per flop: it stays on the CPU, bit for bit the CPU's result
        assertThat(byDefault.binary(dev.lory4j.tensor.BinaryOp.ADD, a, b).toArray())
                .containsExactly(cpu.binary(dev.lory4j.tensor.BinaryOp.ADD, a, b).toArray());
        assertThat(byDefault.planCount()).isZero();
        // a 128^3 product does 2*128^3 flops on 3*128^2 floats (21 flops per byte): on the device
        assertThat(byDefault.matmul(a, b).relativeErrorTo(cpu.matmul(a, b))).isLessThan(1e-5);
        assertThat(byDefault.planCount()).isEqualTo(1);
        byDefault.close();
        assertThatThrownBy(() -> new TornadoBackend(-1)).hasMessageContaining("minFlopsPerByte");
        assertThatThrownBy(() -> new TornadoBackend(0, Double.NaN)).hasMessageContaining("minFlops");
    }

    @Test
    void aOneRowProductWithAResidentParameterStaysOnTheCpuByDefault() {
        TornadoBackend byDefault = new TornadoBackend();
        Rng rng = new Rng(18);
        Tensor w = rng.uniform(-1f, 1f, 256, 256);
        w.storage().markResident();
        Tensor x = rng.uniform(-1f, 1f, 1, 256); // 131 kflop: less than one launch is worth
        assertThat(byDefault.matmul(x, w.t()).toArray()).containsExactly(cpu.matmul(x, w.t()).toArray());
        assertThat(byDefault.residentUploads()).isZero();
        Tensor rows = rng.uniform(-1f, 1f, 64, 256); // 8.4 Mflop, copying 128 KB: on the device
        assertThat(byDefault.matmul(rows, w.t()).relativeErrorTo(cpu.matmul(rows, w.t()))).isLessThan(1e-5);
        assertThat(byDefault.residentUploads()).isEqualTo(1);
        byDefault.close();
    }

    @Test
    void residentProductsAreTimed() {
        Rng rng = new Rng(13);
        Tensor a = rng.uniform(-1f, 1f, 70, 33);
        Tensor b = rng.uniform(-1f, 1f, 33, 81);
        assertThat(tornado.residentMatmulSeconds(a, b, 3)).isPositive().isFinite();
    }

    @Test
    void adamwKeepsTheMomentsOnTheDeviceAndMatchesTheCpuKernel() {
        Rng rng = new Rng(14);
        int n = 1037;
        Tensor p1 = rng.uniform(-1f, 1f, n);
        Tensor p2 = Tensor.wrap(p1.toArray(), n);
        Tensor m1 = Tensor.zeros(n);
        Tensor v1 = Tensor.zeros(n);
        Tensor m2 = Tensor.zeros(n);
        Tensor v2 = Tensor.zeros(n);
        for (int step = 1; step <= 4; step++) {
            if (step == 3) { // the host writes one moment (a checkpoint load): the device must take it over
                m1.fill(0.25f);
                m2.fill(0.25f); // a host write: counted by the storage, so the plan re-uploads
            }
            Tensor g = rng.normal(0f, 1f, n);
            float bc1 = (float) (1 - Math.pow(0.9, step));
            float bc2 = (float) (1 - Math.pow(0.999, step));
            cpu.adamw(java.util.List.of(p1), java.util.List.of(g), java.util.List.of(m1), java.util.List.of(v1), 1e-2f,
                    0.9f, 0.999f, 1e-8f, 0.1f, bc1, bc2);
            tornado.adamw(p2, g, m2, v2, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, bc1, bc2);
            // same formula; the device's sqrt and division may round differently in the last bit
            assertThat(p2.relativeErrorTo(p1)).as("step %d", step).isLessThan(1e-6);
        }
        // the moments live on the device until the host reads them (then they are pulled, once)
        assertThat(m2.storage().isDeviceNewer()).isTrue();
        assertThat(v2.storage().isDeviceNewer()).isTrue();
        assertThat(m2.relativeErrorTo(m1)).isLessThan(1e-6);
        assertThat(v2.relativeErrorTo(v1)).isLessThan(1e-6);
        tornado.close();
    }

    @Test
    void selectionPrefersTheCpuOnACpuOnlyDeviceUnlessAsked() {
        assertThat(Backends.discover()).extracting(Backend::name).contains("cpu", "tornado");
        boolean gpu = tornado.isAvailable() && System.getProperty("lory4j.backend") == null;
        Backend chosen = Backends.select(null, Backends.discover());
        assertThat(chosen.name()).isEqualTo(gpu ? "tornado" : "cpu");
        System.setProperty("lory4j.backend", "tornado");
        try {
            assertThat(Backends.select("tornado", Backends.discover()).name()).isEqualTo("tornado");
        } finally {
            System.clearProperty("lory4j.backend");
        }
        assertThat(tornado.deviceName()).isNotBlank();
    }
}
