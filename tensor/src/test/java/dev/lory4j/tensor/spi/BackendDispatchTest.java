package dev.lory4j.tensor.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Copies, joins and index ops reach the backend (one dispatch point for every op that makes new data, so a device
 * backend can run them and a recorder can see them), with the same values as on the CPU.
 */
class BackendDispatchTest {
    private final Backend before = Backends.current();

    @AfterEach
    void restore() {
        Backends.use(before);
    }

    /** Records the names of the data-moving primitives called, computing with the CPU backend. */
    private static final class Spy extends DelegatingBackend {
        final List<String> calls = new ArrayList<>();

        Spy() {
            super(new CpuBackend(), "spy");
        }

        @Override
        public Tensor copy(Tensor x) {
            calls.add("copy");
            return super.copy(x);
        }

        @Override
        public Tensor concat(int axis, Tensor[] parts) {
            calls.add("concat");
            return super.concat(axis, parts);
        }

        @Override
        public Tensor pad(Tensor x, int[] before, int[] after, float value) {
            calls.add("pad");
            return super.pad(x, before, after, value);
        }

        @Override
        public Tensor indexSelect(Tensor x, int axis, int[] index) {
            calls.add("indexSelect");
            return super.indexSelect(x, axis, index);
        }

        @Override
        public Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src) {
            calls.add("indexAdd");
            return super.indexAdd(x, axis, index, src);
        }

        @Override
        public Tensor gather(Tensor x, int axis, int[] index, int[] indexShape) {
            calls.add("gather");
            return super.gather(x, axis, index, indexShape);
        }

        @Override
        public Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src) {
            calls.add("scatterAdd");
            return super.scatterAdd(x, axis, index, indexShape, src);
        }

        @Override
        public Tensor where(Tensor cond, Tensor a, Tensor b) {
            calls.add("where");
            return super.where(cond, a, b);
        }
    }

    /** Each op once, in a fixed order; returns the results. */
    private static List<Tensor> ops(Tensor x) {
        int[] idx = {4, 0, 4, 2};
        List<Tensor> out = new ArrayList<>();
        out.add(x.transpose(0, 1).contiguous());
        out.add(Tensor.concat(1, x, x.slice(1, 0, 3)));
        out.add(x.pad(new int[] {1, 0}, new int[] {0, 2}, -1f));
        out.add(x.indexSelect(0, idx));
        out.add(x.indexAdd(0, idx, x.slice(0, 0, 4)));
        out.add(x.gather(1, new int[] {6, 0, 1, 2, 3, 4, 5, 6, 0, 1}, 5, 2));
        out.add(x.scatterAdd(1, new int[] {6, 0, 1, 2, 3, 4, 5, 6, 0, 1}, new int[] {5, 2}, x.slice(1, 0, 2)));
        out.add(x.maskedFill(x.gt(0f), 0f));
        return out;
    }

    @Test
    void everyDataMovingOpGoesThroughTheBackendWithTheCpusValues() {
        Tensor x = new Rng(3).normal(0f, 1f, 5, 7); // odd sizes
        Backends.use(new CpuBackend());
        List<Tensor> want = ops(x);
        Spy spy = new Spy();
        Backends.use(spy);
        List<Tensor> got = ops(x);
        assertThat(spy.calls).containsExactly("copy", "concat", "pad", "indexSelect", "indexAdd", "gather",
                "scatterAdd", "where");
        for (int i = 0; i < want.size(); i++) {
            assertThat(got.get(i).toArray()).as("op %d", i).containsExactly(want.get(i).toArray());
        }
    }
}
