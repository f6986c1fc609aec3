package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The SwiGLU block y = (silu(x W1ᵀ) ⊙ (x W3ᵀ)) W2ᵀ of one layer for n rows: a {@link ParamPlan} over its three
 * weights (W1, W3, W2, with their gradients and AdamW moments on the device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: x in, y out;</li>
 * <li>{@link #BACKWARD} (recomputing a = x W1ᵀ, b = x W3ᵀ): x and dy in, dx out; dW1, dW3 and dW2 stay on the
 * device as the parameters' gradients.</li>
 * </ul>
 * The [n, f] intermediates (a, b, their gated product and its gradients) live only on the device.
 */
final class SwiGluPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] x1;
    final float[] y1;
    final float[] x2;
    final float[] dy2;
    final float[] dx2;

    /**
     * Builds the plan for W1, W3 [f, d] and W2 [dOut, f] (their storages) and n rows; {@code scratch.apply(slot,
     * size)} gives the device-only intermediate arrays (never copied, so plans may share them).
     */
    SwiGluPlan(String id, Storage s1, Storage s3, Storage s2, int n, int f, int d, int dOut,
               BiFunction<Integer, Integer, float[]> scratch) {
        super(id, s1, s3, s2);
        float[][] w = {params[0].w, params[1].w, params[2].w};
        x1 = new float[n * d];
        y1 = new float[n * dOut];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, x1);
        forward = Blocks.swiGlu(this, forward, "f", x1, w, y1, n, f, d, dOut, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1);

        x2 = new float[n * d];
        dy2 = new float[n * dOut];
        dx2 = new float[n * d];
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, dy2);
        backward = Blocks.swiGluBackward(this, backward, "b", x2, dy2, w,
                        new float[][] {params[0].g, params[1].g, params[2].g}, dx2, n, f, d, dOut, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2);
        build(forward, backward);
    }
}
