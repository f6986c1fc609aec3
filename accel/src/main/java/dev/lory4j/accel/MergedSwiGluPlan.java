package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The feed-forward block of a Lory layer for S segments of T rows (spec §2.2, §2.4, §3.2–3.3): a {@link ParamPlan}
 * over its three expert tensors (gate and up [E, f, d], down [E, d', f], with their gradients and AdamW moments on
 * the device) with two compute graphs:
 * <ul>
 * <li>{@link #FORWARD}: h [S, T, d] and w [S, E] in, y [S, T, d'] out. Merges Ḡ, Ū, D̄ = w · Wflat (one [S, E] ·
 * [E, ·] product each), then per segment a = h Ḡᵀ, b = h Ūᵀ, z = silu(a) ⊙ b, y = z D̄ᵀ;</li>
 * <li>{@link #BACKWARD}: h, w and dy in; dh and dw out; the experts' gradients wᵀ · dM̄ stay on the device. It merges
 * and recomputes a, b, z again (spec §2.9's "recompute" choice: the merged matrices are never kept between graphs),
 * then dz = dy D̄, dD̄ = dyᵀ z, da and db (the gate's backward), dh = da Ḡ + db Ū, dḠ = daᵀ h, dŪ = dbᵀ h, and
 * dw = Σ over the three of dM̄ · Wflatᵀ (as partial products over the rows of each matrix, summed in a fixed
 * order).</li>
 * </ul>
 * The merged matrices, their gradients and the [S, T, f] intermediates live only on the device.
 */
final class MergedSwiGluPlan extends ParamPlan {
    static final int FORWARD = 0;
    static final int BACKWARD = 1;

    final float[] h1;
    final float[] w1;
    final float[] y1;
    final float[] h2;
    final float[] w2;
    final float[] dy2;
    final float[] dh2;
    final float[] dw2;

    /**
     * Builds the plan for the expert tensors (their storages) gate, up [E, f, d] and down [E, dOut, f] and S segments
     * of T rows; {@code scratch.apply(slot, size)} gives device-only intermediates (never copied, shared by plans).
     */
    MergedSwiGluPlan(String id, Storage gate, Storage up, Storage down, int s, int t, int e, int f, int d, int dOut,
                     BiFunction<Integer, Integer, float[]> scratch) {
        super(id, gate, up, down);
        Blocks.Merged m = new Blocks.Merged(s, t, e, f, d, dOut);
        int n = s * t;
        float[][] experts = {params[0].w, params[1].w, params[2].w};
        h1 = new float[n * d];
        w1 = new float[s * e];
        y1 = new float[n * dOut];
        TaskGraph forward = graph("f").transferToDevice(DataTransferMode.EVERY_EXECUTION, h1, w1);
        forward = Blocks.merged(this, forward, "f", m, h1, w1, experts, y1, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y1);

        h2 = new float[n * d];
        w2 = new float[s * e];
        dy2 = new float[n * dOut];
        dh2 = new float[n * d];
        dw2 = new float[s * e];
        TaskGraph backward = graph("b").transferToDevice(DataTransferMode.EVERY_EXECUTION, h2, w2, dy2);
        backward = Blocks.mergedBackward(this, backward, "b", m, h2, w2, dy2, experts,
                        new float[][] {params[0].g, params[1].g, params[2].g}, dh2, dw2, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dh2, dw2);
        build(forward, backward);
    }
}
