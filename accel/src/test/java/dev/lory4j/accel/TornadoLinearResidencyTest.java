package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.nn.Linear;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.autograd.optim.GradClip;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A linear layer's weight, gradient and AdamW moments stay on the device across clipped training steps (only
 * activations and a few scalars cross), and every value the host reads (gradient, weight, moments) equals the
 * CPU's.
 */
class TornadoLinearResidencyTest {
    private static final int IN = 96;
    private static final int OUT = 64;

    /** What one run of three clipped AdamW steps produced. */
    private record Run(double[] norms, Tensor firstGrad, Tensor weight, List<Tensor> moments, long[] bytesPerStep,
                       long[] uploads) {}

    private static Run train(Backend backend) {
        Backend before = Backends.current();
        Backends.use(backend);
        try {
            Linear layer = new Linear(IN, OUT, false, 0.2f, new Rng(5));
            AdamW opt = new AdamW(layer.namedParameters(), 0.05f, 0.9f, 0.999f, 1e-8f, 0.1f);
            Rng rng = new Rng(6);
            double[] norms = new double[3];
            long[] bytes = new long[3];
            long[] uploads = new long[3];
            Tensor firstGrad = null;
            for (int step = 0; step < 3; step++) {
                long copied = backend.bytesCopied();
                Var x = Var.of(rng.normal(0f, 1f, 2, 3, IN));
                Var loss = layer.forward(x).square().sum();
                opt.zeroGrad();
                loss.backward();
                if (step == 0) {
                    firstGrad = layer.weight().grad().copy(); // a host read of a gradient kept on the device
                }
                norms[step] = GradClip.clipGradNorm(layer.parameters(), 1.0);
                opt.step();
                bytes[step] = backend.bytesCopied() - copied;
                uploads[step] = backend instanceof TornadoBackend t ? t.residentUploads() : 0;
            }
            List<Tensor> moments = new ArrayList<>();
            opt.stateTensors().values().forEach(t -> moments.add(t.copy()));
            return new Run(norms, firstGrad, layer.weight().data().copy(), moments, bytes, uploads);
        } finally {
            Backends.use(before);
        }
    }

    @Test
    void clippedStepsKeepWeightGradientAndMomentsOnTheDevice() {
        Run cpu = train(new CpuBackend());
        TornadoBackend tornado = new TornadoBackend(0);
        Run device = train(tornado);
        assertThat(device.firstGrad().relativeErrorTo(cpu.firstGrad())).isLessThan(1e-5);
        for (int i = 0; i < 3; i++) {
            assertThat(cpu.norms()[i]).isGreaterThan(1.0); // the clip scaled every step
            assertThat(device.norms()[i]).as("norm %d", i).isCloseTo(cpu.norms()[i],
                    org.assertj.core.data.Offset.offset(1e-5 * cpu.norms()[i]));
        }
        assertThat(device.weight().relativeErrorTo(cpu.weight())).isLessThan(1e-5);
        for (int i = 0; i < cpu.moments().size(); i++) {
            assertThat(device.moments().get(i).relativeErrorTo(cpu.moments().get(i))).as("moment %d", i)
                    .isLessThan(1e-5);
        }
        // After the first step nothing of W's size crosses: 6 rows of activations in and out, a few scalars.
        long weightBytes = 4L * IN * OUT;
        assertThat(device.bytesPerStep()[2]).isLessThan(weightBytes);
        assertThat(device.uploads()[2]).isEqualTo(device.uploads()[1]);
        tornado.close();
    }

    @Test
    void hostWritesReachTheDeviceAndReleasedGradientsSaySo() {
        TornadoBackend tornado = new TornadoBackend(0);
        Backend before = Backends.current();
        Backends.use(tornado);
        try {
            Linear layer = new Linear(IN, OUT, false, 0.2f, new Rng(7));
            AdamW opt = new AdamW(layer.namedParameters(), 0.05f, 0.9f, 0.999f, 1e-8f, 0.1f);
            Tensor x = new Rng(8).normal(0f, 1f, 6, IN);
            layer.forward(Var.of(x)).square().sum().backward();
            Tensor grad = layer.weight().grad();
            opt.step(); // W is newer on the device now
            opt.zeroGrad();
            assertThatThrownBy(() -> grad.get(0, 0)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("zeroGrad");
            Tensor w = layer.weight().data();
            w.set(3f, 1, 2); // pulls W, then a host write: the next product must use it
            Tensor ref;
            Backends.use(new CpuBackend());
            ref = x.matmul(w.copy().t());
            Backends.use(tornado);
            Tensor y = layer.forward(Var.of(x)).data();
            assertThat(y.relativeErrorTo(ref)).isLessThan(1e-5);
        } finally {
            Backends.use(before);
            tornado.close();
        }
    }
}
