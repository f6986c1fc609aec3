package dev.lory4j.tensor.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackendsTest {

    /** A fake accelerator that delegates to the CPU; only its selection is under test. */
    private record Fake(String name, int priority, boolean available) implements Backend {
        private static final CpuBackend CPU = new CpuBackend();

        @Override
        public boolean isAvailable() {
            if (name.equals("broken")) {
                throw new IllegalStateException("no device");
            }
            return available;
        }

        @Override
        public Tensor unary(UnaryOp op, Tensor x) {
            return CPU.unary(op, x);
        }

        @Override
        public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
            return CPU.binary(op, a, b);
        }

        @Override
        public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
            return CPU.reduce(op, x, axes, keepDim);
        }

        @Override
        public Tensor matmul(Tensor a, Tensor b) {
            return CPU.matmul(a, b);
        }

        @Override
        public Tensor softmax(Tensor x, int axis, boolean log) {
            return CPU.softmax(x, axis, log);
        }

        @Override
        public Tensor causalSoftmax(Tensor x) {
            return CPU.causalSoftmax(x);
        }

        @Override
        public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
            return CPU.softmaxBackward(y, g, scale);
        }

        @Override
        public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
            return CPU.rmsNorm(x, weight, eps);
        }

        @Override
        public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
            return CPU.layerNorm(x, weight, bias, eps);
        }
    }

    @Test
    void highestAvailablePriorityWinsAndNamesOverride() {
        Backend cpu = new CpuBackend();
        Backend gpu = new Fake("gpu", 10, true);
        Backend off = new Fake("off", 20, false);
        Backend broken = new Fake("broken", 30, true);
        List<Backend> all = List.of(cpu, gpu, off, broken);
        assertThat(Backends.select(null, all).name()).isEqualTo("gpu");
        assertThat(Backends.select("cpu", all).name()).isEqualTo("cpu");
        assertThat(Backends.select("GPU", all).name()).isEqualTo("gpu");
        assertThat(Backends.select("off", all).name()).isEqualTo("cpu"); // unavailable: falls back
        assertThat(Backends.select("broken", all).name()).isEqualTo("cpu"); // start-up failure: falls back
        assertThat(Backends.select("nosuch", all).name()).isEqualTo("cpu");
        assertThat(Backends.discover()).extracting(Backend::name).contains("cpu");
        assertThat(Backends.current().name()).isEqualTo("cpu");
    }
}
