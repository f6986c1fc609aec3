package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The causal self-attention block of a decoder layer (LLaMA, no cache) for B rows of L tokens: a {@link ParamPlan}
 * over its four projection weights Wq, Wk, Wv [H·D, d] and Wo [d', H·D] (with their gradients and AdamW moments on the
 * device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: x [B·L, d] and the RoPE tables [L, D] in, y [B·L, d'] out: q = rope(x Wqᵀ), k = rope(x Wkᵀ)
 * and v = x Wvᵀ regrouped as heads [B, H, L, D], the causal attention o = softmax(q kᵀ/√D) v, the heads joined again
 * and y = o Woᵀ;</li>
 * <li>{@link #BACKWARD}: x, dy and the tables in, dx out; it recomputes the forward pass, then dWo = dyᵀ o,
 * do = dy Wo, the attention gradients, the rotation undone on dq and dk, dx = dq Wq + dk Wk + dv Wv and dW = dᵀ x for
 * the three projections. The four weight gradients stay on the device.</li>
 * </ul>
 * The projections, the [B, H, L, L] scores and probabilities and every gradient between live only on the device.
 */
final class AttentionBlockPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] x1;
    final float[] cos1;
    final float[] sin1;
    final float[] y1;
    final float[] x2;
    final float[] dy2;
    final float[] cos2;
    final float[] sin2;
    final float[] dx2;

    /**
     * Builds the plan for the weights (their storages) and B rows of L tokens, d inputs, H heads of size D and d'
     * outputs; {@code scratch.apply(slot, size)} gives device-only intermediates (never copied, shared by plans).
     */
    AttentionBlockPlan(String id, Storage wq, Storage wk, Storage wv, Storage wo, int b, int l, int d, int heads,
                       int dim, int dOut, BiFunction<Integer, Integer, float[]> scratch) {
        super(id, wq, wk, wv, wo);
        Blocks.Attention a = new Blocks.Attention(b, l, heads, dim, d, dOut);
        int n = b * l;
        float[][] w = {params[0].w, params[1].w, params[2].w, params[3].w};
        x1 = new float[n * d];
        cos1 = new float[l * dim];
        sin1 = new float[l * dim];
        y1 = new float[n * dOut];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, x1, cos1, sin1);
        forward = Blocks.attention(this, forward, "f", a, x1, cos1, sin1, w, y1, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1);

        x2 = new float[n * d];
        dy2 = new float[n * dOut];
        cos2 = new float[l * dim];
        sin2 = new float[l * dim];
        dx2 = new float[n * d];
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, x2, dy2, cos2, sin2);
        backward = Blocks.attentionBackward(this, backward, "b", a, x2, dy2, cos2, sin2, w,
                        new float[][] {params[0].g, params[1].g, params[2].g, params[3].g}, dx2, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dx2);
        build(forward, backward);
    }
}
