package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** Training steps of small Lory and dense models with the TornadoVM backend give the CPU backend's losses. */
class TornadoTrainingStepTest {

    /** Losses of three steps, then the optimizer's first-moment estimates of all parameters, concatenated. */
    private static float[] losses(Backend backend, boolean lory) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            DecoderConfig c = new DecoderConfig(32, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.1f, false);
            MoeModel model = new MoeModel(lory ? MoeConfig.lory(c, 4, 8) : MoeConfig.dense(c), new Rng(1));
            AdamW opt = new AdamW(model.lm().namedParameters());
            Rng rng = new Rng(2);
            float[] out = new float[3];
            for (int step = 0; step < 3; step++) {
                int[] x = new int[2 * 24];
                int[] y = new int[2 * 24];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rng.nextInt(32);
                    y[i] = rng.nextInt(32);
                }
                Var loss = model.loss(x, y, 2, 24, -100);
                opt.zeroGrad();
                loss.backward();
                opt.step();
                out[step] = loss.item();
            }
            java.util.List<Float> all = new java.util.ArrayList<>();
            for (float f : out) {
                all.add(f);
            }
            opt.stateTensors().forEach((name, t) -> {
                for (float f : t.toArray()) {
                    all.add(f);
                }
            });
            float[] res = new float[all.size()];
            for (int i = 0; i < res.length; i++) {
                res[i] = all.get(i);
            }
            return res;
        } finally {
            Backends.use(before);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "lory={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void stepsOnTheDeviceMatchTheCpu(boolean lory) {
        float[] cpu = losses(new CpuBackend(), lory);
        TornadoBackend tornado = new TornadoBackend(0); // every supported op on the device
        float[] device = losses(tornado, lory);
        tornado.close();
        for (int i = 0; i < 3; i++) {
            // Products summed in another order on the device: agreement to float rounding (1e-5 relative).
            assertThat(device[i]).as("step %d", i).isCloseTo(cpu[i], Offset.offset(1e-5f * Math.abs(cpu[i])));
        }
        // The optimizer moments, kept on the device by AdamW, come back for stateTensors() (checkpoints).
        Tensor cpuState = Tensor.wrap(java.util.Arrays.copyOfRange(cpu, 3, cpu.length), cpu.length - 3);
        Tensor deviceState = Tensor.wrap(java.util.Arrays.copyOfRange(device, 3, device.length), device.length - 3);
        assertThat(deviceState.relativeErrorTo(cpuState)).isLessThan(1e-4);
        assertThat(cpu[2]).isNotEqualTo(cpu[0]); // the model did train
    }
}
