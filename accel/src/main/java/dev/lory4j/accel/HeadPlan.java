package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * A language model's head and its loss for m rows: a {@link ParamPlan} over the head's weight W [V, d] (with its
 * gradient and AdamW moments on the device) with two compute graphs:
 * <ul>
 * <li>{@link #LOSS}: x [m, d] and the targets in; the per-row losses out (m floats): z = x Wᵀ and
 * logsumexp(z_i) − z_i[t_i];</li>
 * <li>{@link #GRADS}: x, the targets and the scale (upstream gradient / rows counted) in, dx out: z again,
 * dz = (softmax(z) − onehot(t)) · scale, dx = dz W, and dW = dzᵀ x kept on the device.</li>
 * </ul>
 * The [m, V] logits and their gradient live only on the device, so a training step copies the rows in and their
 * losses out instead of the logits out and their gradient in.
 */
final class HeadPlan extends ParamPlan {
    static final int LOSS = 0;
    static final int GRADS = 1;

    final float[] x1;
    final int[] t1;
    final float[] loss;
    final float[] x2;
    final int[] t2;
    final float[] scale2 = new float[1];
    final float[] dx2;

    /**
     * Builds the plan for the weight W [v, d] (its storage), m rows and targets equal to {@code ignore} skipped;
     * {@code scratch.apply(slot, size)} gives device-only intermediates (never copied, shared by plans).
     */
    HeadPlan(String id, Storage weight, int m, int v, int d, int ignore, BiFunction<Integer, Integer, float[]> scratch) {
        super(id, weight);
        float[] w = params[0].w;
        x1 = new float[m * d];
        t1 = new int[m];
        loss = new float[m];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, x1, t1);
        forward = Blocks.headLoss(this, forward, "f", x1, t1, w, loss, m, v, d, ignore, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, loss);

        x2 = new float[m * d];
        t2 = new int[m];
        dx2 = new float[m * d];
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, t2, scale2);
        backward = Blocks.headGrads(this, backward, "b", x2, t2, scale2, w, params[0].g, dx2, m, v, d, ignore, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2);
        build(forward, backward);
    }
}
