package dev.lory4j.accel;

import dev.lory4j.tensor.Storage;
import dev.lory4j.autograd.nn.DecoderSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * A whole decoder ({@link DecoderSpec}) for batches of B x L tokens as one {@link ParamPlan}: every parameter with its
 * gradient and AdamW moments, and the residual stream between the blocks, stay on the device. Its compute graphs:
 * <ul>
 * <li>forward ({@link #forwardGraphs} of them): {@code e} (tokens in, the embedding rows x_0), per layer l {@code a}l
 * (h_l = x_l + attention(norm1(x_l))) and {@code m}l (x_{l+1} = h_l + ffn(norm2(h_l))), and {@code h} (targets in;
 * the final norm, the head and the n row losses out);</li>
 * <li>backward: {@code H} (targets and the loss scale in; the head's and final norm's gradients, dx_L), per layer
 * from the last {@code M}l and {@code A}l (each block's forward pass recomputed from its kept input, then its
 * backward pass with the norm's and the residual's gradients) and {@code E} (the token positions in; the embedding
 * gradient).</li>
 * </ul>
 * So a training step copies in B·L tokens and targets (and the positions of each token for the embedding gradient)
 * and copies out B·L row losses. A Lory layer routes on the device too (spec §2.3–2.6): segment means of its input,
 * the router, the softmax, the causal shift and, backward, their gradients; its length must be a multiple of T.
 */
final class DecoderPlan extends ParamPlan {
    final int n;
    final int[] tokens;
    final int[] targets1;
    final float[] loss;
    final int[] targets2;
    final float[] scale2 = new float[1];
    final int[] offsets;
    final int[] positions;
    final int forwardGraphs;
    int[] ranTokens; // the arrays of the forward pass whose activations the device holds (by identity), else null
    int[] ranTargets;

    private final DecoderSpec spec;
    private final int b;
    private final int l;
    private final int d;
    private final int f;
    private final int[] layerBase; // the index of each layer's input norm weight among the parameters
    private final int finalNorm;
    private final int head;
    private final BiFunction<Integer, Integer, float[]> scratch;

    /** Builds the plan for the parameters (their storages, in {@link DecoderSpec}'s order) and RoPE tables [L, D]. */
    DecoderPlan(String id, DecoderSpec spec, Storage[] weights, float[] cos, float[] sin, int b, int l, int ignore,
                BiFunction<Integer, Integer, float[]> scratch) {
        super(id, extras(spec, b, l, cos, sin), weights);
        this.spec = spec;
        this.b = b;
        this.l = l;
        this.n = b * l;
        this.d = spec.hidden();
        this.f = spec.intermediate();
        this.scratch = scratch;
        int layers = spec.layers().size();
        layerBase = new int[layers];
        int at = 1;
        for (int i = 0; i < layers; i++) {
            layerBase[i] = at;
            at += 6 + spec.layers().get(i).parameterCount();
        }
        finalNorm = at;
        head = spec.tied() ? 0 : at + 1;
        int v = spec.vocab();

        List<TaskGraph> compute = new ArrayList<>();
        tokens = new int[n];
        compute.add(graph("e").transferToDevice(DataTransferMode.EVERY_EXECUTION, (Object) tokens)
                .task("t", TornadoKernels::embedKernel, new KernelContext(), params[0].w, tokens, x(0), n, d));
        Blocks.grid(this, "e", "t", n * d);
        for (int i = 0; i < layers; i++) {
            compute.add(attentionForward(i));
            compute.add(ffnForward(i));
        }
        targets1 = new int[n];
        loss = new float[n];
        String name = "h";
        float[] u = scratch.apply(100, n * d);
        TaskGraph h = norm(graph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, (Object) targets1), name,
                x(layers), finalNorm, u);
        compute.add(Blocks.headLoss(this, h, name, u, targets1, params[head].w, loss, n, v, d, ignore, scratch)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, loss)
                .transferToHost(DataTransferMode.UNDER_DEMAND, u));
        forwardGraphs = compute.size();

        targets2 = new int[n];
        name = "H";
        float[] du = scratch.apply(104, n * d);
        TaskGraph hb = norm(graph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, targets2, scale2), name,
                x(layers), finalNorm, u);
        hb = Blocks.headGrads(this, hb, name, u, targets2, scale2, params[head].w, params[head].g, du, n, v, d, ignore,
                scratch);
        compute.add(normGrads(hb, name, x(layers), finalNorm, du, null, gradA()).transferToHost(
                DataTransferMode.UNDER_DEMAND, u, du));
        for (int i = layers - 1; i >= 0; i--) {
            compute.add(ffnBackward(i));
            compute.add(attentionBackward(i));
        }
        offsets = new int[v + 1];
        positions = new int[n];
        compute.add(graph("E").transferToDevice(DataTransferMode.EVERY_EXECUTION, offsets, positions)
                .task("t", TornadoKernels::embedGradKernel, new KernelContext(), gradA(), offsets, positions,
                        params[0].g, v, d, spec.tied() ? 1 : 0));
        Blocks.grid(this, "E", "t", v * d);
        build(compute.toArray(TaskGraph[]::new));
    }

    /** The arrays kept on the device between graphs: x_0..x_L, h_0..h_{L-1}, two gradient buffers, cos, sin. */
    private static float[][] extras(DecoderSpec spec, int b, int l, float[] cos, float[] sin) {
        int layers = spec.layers().size();
        int rows = b * l * spec.hidden();
        float[][] e = new float[2 * layers + 5][];
        for (int i = 0; i < 2 * layers + 3; i++) {
            e[i] = new float[rows];
        }
        e[2 * layers + 3] = cos;
        e[2 * layers + 4] = sin;
        return e;
    }

    /** The input of layer i (x_L: the last layer's output). */
    private float[] x(int i) {
        return extra[i];
    }

    /** The residual stream after layer i's attention block. */
    private float[] h(int i) {
        return extra[spec.layers().size() + 1 + i];
    }

    /** The gradient buffer read by the attention blocks' backward graphs and written by the others. */
    private float[] gradA() {
        return extra[2 * spec.layers().size() + 1];
    }

    /** The gradient buffer read by the feed-forward blocks' backward graphs. */
    private float[] gradB() {
        return extra[2 * spec.layers().size() + 2];
    }

    private float[] cos() {
        return extra[2 * spec.layers().size() + 3];
    }

    private float[] sin() {
        return extra[2 * spec.layers().size() + 4];
    }

    private Blocks.Attention attentionSizes() {
        return new Blocks.Attention(b, l, spec.heads(), spec.headDim(), d, d);
    }

    private float[][] weights(int from, int count) {
        float[][] w = new float[count][];
        for (int i = 0; i < count; i++) {
            w[i] = params[from + i].w;
        }
        return w;
    }

    private float[][] grads(int from, int count) {
        float[][] g = new float[count][];
        for (int i = 0; i < count; i++) {
            g[i] = params[from + i].g;
        }
        return g;
    }

    /** Adds u = RMSNorm(x) with the weight of parameter {@code weight} (task kn). */
    private TaskGraph norm(TaskGraph g, String name, float[] x, int weight, float[] u) {
        Blocks.grid(this, name, "kn", n);
        return g.task("kn", TornadoKernels::rmsNormRows, new KernelContext(), x, params[weight].w, u, n, d,
                spec.eps());
    }

    /**
     * Adds the norm's backward pass (tasks kr, kx, kw): dx = dres + RMSNorm's input gradient for du (no dres when
     * null), and the weight's gradient into its G.
     */
    private TaskGraph normGrads(TaskGraph g, String name, float[] x, int weight, float[] du, float[] dres,
                                float[] dx) {
        float[] r = scratch.apply(103, n);
        Blocks.grid(this, name, "kr", n);
        Blocks.grid(this, name, "kx", n);
        Blocks.grid(this, name, "kw", d);
        return g.task("kr", TornadoKernels::rstdRowsKernel, new KernelContext(), x, r, n, d, spec.eps())
                .task("kx", TornadoKernels::rmsNormGradRowsKernel, new KernelContext(), x, r, params[weight].w, du,
                        dres == null ? du : dres, dx, n, d, dres == null ? 0 : 1)
                .task("kw", TornadoKernels::rmsNormWeightGradKernel, new KernelContext(), x, r, du, params[weight].g,
                        n, d)
                .transferToHost(DataTransferMode.UNDER_DEMAND, r);
    }

    /** Graph a{i}: h_i = x_i + attention(norm1(x_i)). */
    private TaskGraph attentionForward(int i) {
        String name = "a" + i;
        int base = layerBase[i];
        float[] u = scratch.apply(100, n * d);
        float[] y = scratch.apply(101, n * d);
        TaskGraph g = norm(graph(name), name, x(i), base, u);
        g = Blocks.attention(this, g, name, attentionSizes(), u, cos(), sin(), weights(base + 1, 4), y, scratch);
        Blocks.grid(this, name, "kz", n * d);
        return g.task("kz", TornadoKernels::addKernel, new KernelContext(), x(i), y, h(i), n * d)
                .transferToHost(DataTransferMode.UNDER_DEMAND, u, y);
    }

    /** Graph A{i}: the attention block's backward pass and its norm's, dx_i = dh_i + norm1's input gradient. */
    private TaskGraph attentionBackward(int i) {
        String name = "A" + i;
        int base = layerBase[i];
        float[] u = scratch.apply(100, n * d);
        float[] du = scratch.apply(104, n * d);
        TaskGraph g = norm(graph(name), name, x(i), base, u);
        g = Blocks.attentionBackward(this, g, name, attentionSizes(), u, gradB(), cos(), sin(), weights(base + 1, 4),
                grads(base + 1, 4), du, scratch);
        return normGrads(g, name, x(i), base, du, gradB(), gradA()).transferToHost(DataTransferMode.UNDER_DEMAND, u,
                du);
    }

    /** Graph m{i}: x_{i+1} = h_i + ffn(norm2(h_i)). */
    private TaskGraph ffnForward(int i) {
        String name = "m" + i;
        int base = layerBase[i];
        DecoderSpec.FeedForward ff = spec.layers().get(i);
        float[] u = scratch.apply(100, n * d);
        float[] y = scratch.apply(101, n * d);
        TaskGraph g = norm(graph(name), name, h(i), base + 5, u);
        if (!ff.isLory()) {
            g = Blocks.swiGlu(this, g, name, u, weights(base + 6, 3), y, n, f, d, d, scratch);
        } else {
            Blocks.Merged m = merged(ff);
            g = routing(g, name, ff, base + 6, u);
            int experts = base + 6 + (ff.routerBias() ? 2 : 1);
            g = Blocks.merged(this, g, name, m, u, scratch.apply(110, m.s() * m.e()), weights(experts, 3), y,
                    scratch);
        }
        Blocks.grid(this, name, "kz", n * d);
        return g.task("kz", TornadoKernels::addKernel, new KernelContext(), h(i), y, x(i + 1), n * d)
                .transferToHost(DataTransferMode.UNDER_DEMAND, u, y);
    }

    /** Graph M{i}: the feed-forward block's backward pass and its norm's, dh_i = dx_{i+1} + norm2's input gradient. */
    private TaskGraph ffnBackward(int i) {
        String name = "M" + i;
        int base = layerBase[i];
        DecoderSpec.FeedForward ff = spec.layers().get(i);
        float[] u = scratch.apply(100, n * d);
        float[] du = scratch.apply(104, n * d);
        TaskGraph g = norm(graph(name), name, h(i), base + 5, u);
        if (!ff.isLory()) {
            g = Blocks.swiGluBackward(this, g, name, u, gradA(), weights(base + 6, 3), grads(base + 6, 3), du, n, f, d,
                    d, scratch);
        } else {
            g = loryBackward(g, name, ff, base + 6, u, du);
        }
        return normGrads(g, name, h(i), base + 5, du, gradA(), gradB()).transferToHost(DataTransferMode.UNDER_DEMAND,
                u, du);
    }

    private Blocks.Merged merged(DecoderSpec.FeedForward ff) {
        return new Blocks.Merged(b * (l / ff.segment()), ff.segment(), ff.experts(), f, d, d);
    }

    /**
     * Adds a Lory layer's routing for its input u (spec §2.3–2.6; tasks km, kl, kb, ks, kh): segment means,
     * logits = means Wrᵀ (+ b), e = softmax(logits), and the weights used (scratch slot 110), shifted one segment.
     */
    private TaskGraph routing(TaskGraph g, String name, DecoderSpec.FeedForward ff, int router, float[] u) {
        Blocks.Merged m = merged(ff);
        int s = m.s();
        int e = m.e();
        float[] means = scratch.apply(111, s * d);
        float[] logits = scratch.apply(112, s * e);
        float[] all = scratch.apply(113, s * e);
        Blocks.grid(this, name, "km", s * d);
        g = g.task("km", TornadoKernels::segmentMeanKernel, new KernelContext(), u, means, s, m.t(), d);
        g = Blocks.product(this, g, name, "kl", s, e, d, false, true, 1, means, params[router].w, logits);
        if (ff.routerBias()) {
            Blocks.grid(this, name, "kb", s * e);
            g = g.task("kb", TornadoKernels::addBiasKernel, new KernelContext(), logits, params[router + 1].w, s, e);
        }
        Blocks.grid(this, name, "ks", s);
        Blocks.grid(this, name, "kh", s * e);
        return g.task("ks", TornadoKernels::causalSoftmaxRows, new KernelContext(), logits, all, s, 1, e)
                .task("kh", TornadoKernels::segmentShiftKernel, new KernelContext(), all, scratch.apply(110, s * e), b,
                        s / b, e, 0)
                .transferToHost(DataTransferMode.UNDER_DEMAND, means, logits, all, scratch.apply(110, s * e));
    }

    /**
     * Adds a Lory layer's backward pass for input u and output gradient dx_{i+1} (spec §3): the routing again, the
     * merged block's backward pass (du, dw), then dw shifted back (segment 0's own weights are under the
     * stop-gradient), the softmax's backward pass, the router's gradients and the means' gradient spread over their
     * rows into du.
     */
    private TaskGraph loryBackward(TaskGraph g, String name, DecoderSpec.FeedForward ff, int router, float[] u,
                                   float[] du) {
        Blocks.Merged m = merged(ff);
        int s = m.s();
        int e = m.e();
        int experts = router + (ff.routerBias() ? 2 : 1);
        float[] means = scratch.apply(111, s * d);
        float[] all = scratch.apply(113, s * e);
        float[] duMerged = scratch.apply(105, n * d);
        float[] dUsed = scratch.apply(114, s * e);
        float[] dAll = scratch.apply(115, s * e);
        float[] dLogits = scratch.apply(116, s * e);
        float[] dMeans = scratch.apply(117, s * d);
        g = routing(g, name, ff, router, u);
        g = Blocks.mergedBackward(this, g, name, m, u, scratch.apply(110, s * e), gradA(), weights(experts, 3),
                grads(experts, 3), duMerged, dUsed, scratch);
        Blocks.grid(this, name, "ku", s * e);
        Blocks.grid(this, name, "kd", s);
        g = g.task("ku", TornadoKernels::segmentShiftKernel, new KernelContext(), dUsed, dAll, b, s / b, e, 1)
                .task("kd", TornadoKernels::softmaxBackwardRows, new KernelContext(), all, dAll, dLogits, s, e, 1f);
        g = Blocks.product(this, g, name, "kg", e, d, s, true, false, 1, dLogits, means, params[router].g);
        if (ff.routerBias()) {
            Blocks.grid(this, name, "kc", e);
            g = g.task("kc", TornadoKernels::columnSumKernel, new KernelContext(), dLogits, params[router + 1].g, s,
                    e);
        }
        g = Blocks.product(this, g, name, "kq", s, d, e, false, false, 1, dLogits, params[router].w, dMeans);
        Blocks.grid(this, name, "kp", n * d);
        return g.task("kp", TornadoKernels::segmentSpreadKernel, new KernelContext(), duMerged, dMeans, du, s, m.t(),
                        d)
                .transferToHost(DataTransferMode.UNDER_DEMAND, duMerged, dUsed, dAll, dLogits, dMeans);
    }
}
