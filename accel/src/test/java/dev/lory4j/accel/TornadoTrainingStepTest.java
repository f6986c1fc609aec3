package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.autograd.optim.GradClip;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Clipped training steps of small dense and Lory models on the TornadoVM device give the CPU backend's losses,
 * clipping norms, weights and optimizer moments, both as a compiled captured step (the whole step one plan, as the
 * trainer runs it) and eagerly, op by op. Along the way: the attention blocks' weights, the SwiGLU blocks' weights,
 * the Lory expert tensors and the head keep their gradients and AdamW moments on the device (compiled: every
 * parameter), no parameter is copied to the device after the first step unless the host writes it (then that one
 * only), host writes to a weight and to its moments reach the device, and plans evicted between steps lose nothing.
 */
class TornadoTrainingStepTest {
    private static final int STEPS = 3;
    private static final double MAX_NORM = 0.5;

    /** What one run produced: per step loss, norm and resident uploads; the gradients left on the device. */
    private record Run(float[] losses, double[] norms, long[] uploads, Set<String> deviceGrads,
                       Map<String, Tensor> params, Map<String, Tensor> state) {}

    private static Run train(Backend backend, boolean lory) {
        return train(backend, lory, 1, false, 24);
    }

    /**
     * {@link #train} with each step's gradient accumulated over {@code micro} batches (backward passes; eager only),
     * batch k of step s of length {@code lengths[(s + k) % lengths.length]}, as a captured step ({@code compiled}:
     * one per length, compiled where the backend compiles) or op by op.
     */
    private static Run train(Backend backend, boolean lory, int micro, boolean compiled, int... lengths) {
        Backend before = Backends.current();
        Backends.use(backend);
        CapturedSteps steps = new CapturedSteps();
        try {
            DecoderConfig c = new DecoderConfig(32, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
            MoeModel model = new MoeModel(lory ? MoeConfig.lory(c, 4, 8) : MoeConfig.dense(c), new Rng(3));
            Map<String, Var> named = model.lm().namedParameters();
            AdamW opt = new AdamW(named, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f);
            Rng rng = new Rng(4);
            float[] losses = new float[STEPS];
            double[] norms = new double[STEPS];
            long[] uploads = new long[STEPS];
            Set<String> onDevice = new TreeSet<>();
            for (int step = 0; step < STEPS; step++) {
                opt.zeroGrad();
                Var loss = null;
                double norm = Double.NaN;
                for (int k = 0; k < micro; k++) {
                    int len = lengths[(step + k) % lengths.length];
                    int[] x = new int[2 * len];
                    int[] y = new int[2 * len];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = rng.nextInt(32);
                        y[i] = rng.nextInt(32);
                    }
                    if (compiled) { // the step with clipping and AdamW: on the device inside the compiled step
                        CapturedSteps.StepResult r = steps.runAndStep("len " + len, model.lm().parameters(),
                                Map.of("tokens", x, "targets", y), () -> model.loss(x, y, 2, len, -100), g -> { },
                                opt, MAX_NORM);
                        loss = Var.of(Tensor.scalar(r.loss()));
                        norm = r.norm();
                        if (backend instanceof TornadoBackend) {
                            assertThat(steps.compiled("len " + len)).isTrue();
                        }
                    } else {
                        loss = model.loss(x, y, 2, len, -100);
                        loss.backward(); // a second pass adds to the gradients the first left (on the device)
                    }
                }
                if (step == STEPS - 1) {
                    named.forEach((name, p) -> {
                        if (p.grad() != null && p.grad().storage().isDeviceNewer()) {
                            onDevice.add(name);
                        }
                    });
                }
                if (!compiled) {
                    norm = GradClip.clipGradNorm(model.lm().parameters(), MAX_NORM);
                    opt.step();
                }
                norms[step] = norm;
                if (step == 1) { // host writes, as a checkpoint load or user code makes them
                    String down = named.keySet().stream().filter(n -> n.contains("down_proj")).findFirst().orElseThrow();
                    Tensor w = named.get(down).data();
                    w.set(0.25f, new int[w.rank()]);
                    Tensor m = opt.stateTensors().get("exp_avg." + down);
                    m.set(m.get(new int[m.rank()]) * 2 + 1e-3f, new int[m.rank()]);
                }
                losses[step] = loss.item();
                uploads[step] = backend instanceof TornadoBackend t ? t.residentUploads() : 0;
            }
            Map<String, Tensor> params = new LinkedHashMap<>();
            named.forEach((name, p) -> params.put(name, p.data().copy())); // host reads of device-newer weights
            Map<String, Tensor> state = new LinkedHashMap<>();
            opt.stateTensors().forEach((name, t) -> state.put(name, t.copy()));
            return new Run(losses, norms, uploads, onDevice, params, state);
        } finally {
            Backends.use(before);
        }
    }

    @ParameterizedTest(name = "lory={0}, compiled={1}")
    @org.junit.jupiter.params.provider.CsvSource({"true,true", "false,true", "true,false", "false,false"})
    void blockWeightsGradientsAndMomentsStayOnTheDevice(boolean lory, boolean compiled) {
        Run cpu = train(new CpuBackend(), lory);
        TornadoBackend tornado = new TornadoBackend(0); // every supported op on the device
        Run device = train(tornado, lory, 1, compiled, 24);
        assertThat(tornado.graphPlanCount()).isEqualTo(compiled ? 1 : 0);
        tornado.close();
        assertSameValues(device, cpu);
        // The block weights (attention projections, dense SwiGLU weights or Lory expert tensors) kept their gradients
        // on the device.
        Set<String> blocks = new TreeSet<>();
        for (String name : cpu.params().keySet()) { // the linear layers' weights (eager: the linear kernel keeps them)
            if (name.matches(".*(q|k|v|o|gate|up|down)_proj.*") && (compiled || !name.contains("experts"))) {
                blocks.add(name);
            }
        }
        assertThat(blocks).hasSize(lory && !compiled ? 4 * 2 : 7 * 2); // attention (and feed-forward) per layer
        blocks.add("lm_head.weight"); // the head, computed with the loss
        assertThat(device.deviceGrads()).containsAll(blocks);
        if (compiled) { // and so did the embeddings, the norms and the routers
            assertThat(device.deviceGrads()).isEqualTo(cpu.params().keySet());
        }
        // After the first step (which copies each parameter in) no weight is copied in again, but the one written
        // (a down projection). Op by op, Lory's six expert tensors are copied in at every step: primitive products
        // read them resident, but their AdamW runs in a moments-only plan that writes them on the host (the written
        // one is among them).
        int experts = lory && !compiled ? 3 * 2 : 0;
        assertThat(device.uploads()[0]).isPositive();
        assertThat(device.uploads()[1]).isEqualTo(device.uploads()[0] + experts);
        assertThat(device.uploads()[2]).isEqualTo(device.uploads()[1] + (experts > 0 ? experts : 1));
    }

    @ParameterizedTest(name = "compiled={0}")
    @ValueSource(booleans = {true, false})
    void plansEvictedBetweenStepsBringTheirWeightsGradientsAndMomentsToTheHost(boolean compiled) {
        // op by op, the blocks of the two layers evict each other; compiled, the steps of two batch lengths do
        int micro = compiled ? 1 : 2;
        Run cpu = train(new CpuBackend(), true, micro, false, 24, 16);
        TornadoBackend tornado = new TornadoBackend(0, 0, 1); // one plan of each kind: every switch evicts
        Run device = train(tornado, true, micro, compiled, 24, 16);
        tornado.close();
        assertSameValues(device, cpu);
        assertThat(device.uploads()[STEPS - 1]).isGreaterThan(device.uploads()[0]); // evicted weights came back
    }

    @org.junit.jupiter.api.Test
    void gradientsAccumulatedOverTwoBackwardPassesMatchTheCpu() {
        Run cpu = train(new CpuBackend(), true, 2, false, 24);
        TornadoBackend tornado = new TornadoBackend(0);
        Run device = train(tornado, true, 2, false, 24);
        tornado.close();
        assertSameValues(device, cpu);
    }

    /** Losses, clipping norms, weights and moments of a device run equal the CPU run's. */
    private static void assertSameValues(Run device, Run cpu) {
        for (int i = 0; i < STEPS; i++) {
            assertThat(device.losses()[i]).as("loss %d", i)
                    .isCloseTo(cpu.losses()[i], Offset.offset(1e-5f * Math.abs(cpu.losses()[i])));
            assertThat(cpu.norms()[i]).as("the clip scaled step %d", i).isGreaterThan(MAX_NORM);
            assertThat(device.norms()[i]).as("norm %d", i)
                    .isCloseTo(cpu.norms()[i], Offset.offset(1e-5 * cpu.norms()[i]));
        }
        // Weights and moments pulled from the device equal the CPU's (3 AdamW steps: rounding grows a little).
        cpu.params().forEach((name, t) -> assertThat(device.params().get(name).relativeErrorTo(t)).as(name)
                .isLessThan(1e-5));
        cpu.state().forEach((name, t) -> assertThat(device.state().get(name).relativeErrorTo(t)).as(name)
                .isLessThan(1e-4));
    }
}
