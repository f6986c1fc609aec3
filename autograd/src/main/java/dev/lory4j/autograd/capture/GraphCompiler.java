package dev.lory4j.autograd.capture;

import dev.lory4j.autograd.Var;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A backend's compiler of captured steps (found with {@link java.util.ServiceLoader}): it turns a {@link Graph} into one program
 * on its device, which keeps the parameters, gradients and activations there and copies in only the step's inputs.
 * {@link CapturedSteps} uses the compiler of the current backend when there is one.
 */
public interface GraphCompiler {
    /** A compiled step: runs the graph on new inputs and returns its named outputs ({@code loss}, {@code grad i}). */
    interface Step {
        /** Runs the step with these inputs (the traced names and lengths). */
        Map<String, Tensor> run(Map<String, int[]> inputs);

        /**
         * Runs the step, then clips the gradients and takes {@code update}'s AdamW step where they are, unless the loss
         * or the gradient norm is not finite (then nothing is scaled or updated): {@link #run}'s outputs plus
         * {@code "norm"}, the norm before clipping. Null where this step cannot (the caller then clips and steps).
         */
        default Map<String, Tensor> runAndUpdate(Map<String, int[]> inputs,
                                                 dev.lory4j.autograd.optim.AdamW.ClippedStep update) {
            return null;
        }
    }

    /** Whether this compiler compiles steps for {@code backend}. */
    boolean compiles(Backend backend);

    /**
     * The composite ops whose kernel nodes this compiler lowers itself; a trace for it keeps those and decomposes every
     * other composite into primitives ({@link Capture#lossAndGradientsFor}).
     */
    Set<String> composites();

    /** The graph compiled for {@code backend} over these parameters, or null when it cannot compile it. */
    Step compile(Backend backend, Graph graph, List<Var> params);
}
