package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import org.junit.jupiter.api.Test;

/** Runs on the TornadoVM device of the machine (PoCL's CPU device here); compares with the CPU backend. */
class TornadoBackendTest {
    private final TornadoBackend tornado = new TornadoBackend();
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void matmulMatchesTheCpuBackendOnRandomShapes() {
        Rng rng = new Rng(7);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64}, {100, 37, 129}};
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
    void otherOperationsAndShapesFallBackToTheCpu() {
        Tensor x = new Rng(8).normal(0f, 1f, 2, 3, 4);
        assertThat(tornado.softmax(x, 2, false).toArray()).containsExactly(cpu.softmax(x, 2, false).toArray());
        Tensor batched = tornado.matmul(x, x.transpose(1, 2));
        assertThat(batched.relativeErrorTo(cpu.matmul(x, x.transpose(1, 2)))).isLessThan(1e-6);
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
