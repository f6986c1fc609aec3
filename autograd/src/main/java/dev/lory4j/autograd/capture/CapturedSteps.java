package dev.lory4j.autograd.capture;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Loss-and-gradients steps by key (e.g. the batch shape): the first step of a key is traced (an eager step that
 * records itself), every later one replays that graph. The gradients end up in the parameters either way, as after
 * {@code loss.backward()}.
 */
public final class CapturedSteps {
    private final Map<String, Graph> graphs = new HashMap<>();

    /**
     * Runs one step of {@code key} on these inputs and returns its loss, the parameters' gradients set (they must be
     * clear before); {@code onTrace} hears of each new graph.
     */
    public float run(String key, List<Var> params, Map<String, int[]> inputs, Supplier<Var> loss,
                     Consumer<Graph> onTrace) {
        Graph graph = graphs.get(key);
        if (graph == null) {
            graph = Capture.lossAndGradients(params, inputs, loss);
            graphs.put(key, graph);
            onTrace.accept(graph);
            return graph.traced().get("loss").item();
        }
        Map<String, Tensor> out = graph.replay(params, inputs);
        for (int i = 0; i < params.size(); i++) {
            params.get(i).setGrad(out.get("grad " + i));
        }
        return out.get("loss").item();
    }

    /** Forgets every graph (the model or its parameters changed). */
    public void clear() {
        graphs.clear();
    }
}
