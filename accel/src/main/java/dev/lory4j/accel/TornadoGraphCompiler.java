package dev.lory4j.accel;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.Graph;
import dev.lory4j.autograd.capture.GraphCompiler;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.tensor.spi.Backend;
import java.util.List;
import java.util.Set;

/**
 * Compiles captured training steps for the TornadoVM backend into one execution plan each ({@link GraphPlan}): the
 * primitives and the cross-entropy become device tasks, and every buffer stays on the device between steps.
 * {@code -Dlory4j.tornado.compile=false} turns it off (steps then replay op by op).
 */
public final class TornadoGraphCompiler implements GraphCompiler {
    private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("lory4j.tornado.compile", "true"));

    @Override
    public boolean compiles(Backend backend) {
        return ENABLED && backend instanceof TornadoBackend;
    }

    @Override
    public Set<String> composites() {
        return Set.of(Composites.CROSS_ENTROPY.name());
    }

    @Override
    public Step compile(Backend backend, Graph graph, List<Var> params) {
        return ((TornadoBackend) backend).compile(graph, params);
    }
}
