package dev.lory4j.tensor.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackendsTest {

    /** A fake accelerator that delegates to the CPU; only its selection is under test. */
    private static final class Fake extends DelegatingBackend {
        private final int priority;
        private final boolean available;

        Fake(String name, int priority, boolean available) {
            super(new CpuBackend(), name);
            this.priority = priority;
            this.available = available;
        }

        @Override
        public int priority() {
            return priority;
        }

        @Override
        public boolean isAvailable() {
            if (name().equals("broken")) {
                throw new IllegalStateException("no device");
            }
            return available;
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
