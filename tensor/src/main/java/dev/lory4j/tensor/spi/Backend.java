package dev.lory4j.tensor.spi;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;

/**
 * Where tensor computations run. Found with {@link java.util.ServiceLoader}; the available backend with the
 * highest {@link #priority()} wins unless {@code -Dlory4j.backend=NAME} picks one (see {@link Backends}).
 * The CPU backend (Vector API) is always present. Arguments may be any strided views; results are new
 * contiguous tensors. Shape errors are thrown with the op name and the shapes.
 */
public interface Backend {
    /** Short name used by {@code -Dlory4j.backend}, e.g. {@code cpu} or {@code tornado}. */
    String name();

    /** Higher wins when no backend is named explicitly. The CPU backend has priority 0. */
    int priority();

    /** Whether this backend can run here (runtime and device present); checked once at selection. */
    default boolean isAvailable() {
        return true;
    }

    /** op(x) elementwise. */
    Tensor unary(UnaryOp op, Tensor x);

    /** op(a, b) elementwise with NumPy broadcasting. */
    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    /** Reduction over {@code axes} (all when empty). */
    Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim);

    /** Matrix product with NumPy semantics (1-D operands, broadcast batch dimensions). */
    Tensor matmul(Tensor a, Tensor b);

    /** Softmax (or log-softmax) along {@code axis} (already normalised to [0, rank)). */
    Tensor softmax(Tensor x, int axis, boolean log);

    /**
     * Softmax over the last axis of x [..., Lq, Lk] where query i sees keys j <= i + Lk - Lq (causal attention
     * aligned to the last keys); masked entries are 0.
     */
    Tensor causalSoftmax(Tensor x);

    /** The softmax backward along the last axis: scale * y * (g - sum(g * y, last)) for y = softmax(x). */
    Tensor softmaxBackward(Tensor y, Tensor g, float scale);

    /** RMSNorm over the last axis; weight is [last] or null. */
    Tensor rmsNorm(Tensor x, Tensor weight, float eps);

    /** LayerNorm over the last axis; weight and bias are [last] or null. */
    Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps);

    /**
     * Products with merged experts (Lory, spec §2.2 and §3.2): for every s, y_s = x_s · M̄_sᵀ (or x_s · M̄_s when
     * {@code transposed} is false) with M̄_s = Σ_e w[s, e] · experts[e]. Shapes: x [S, T, b] (or [S, T, a]),
     * w [S, E], experts [E, a, b]; y [S, T, a] (or [S, T, b]). The default merges with one product ([S, E] ·
     * [E, a·b]) and multiplies per s; a device backend may keep the merged matrices on its device.
     */
    default Tensor mergedMatmul(Tensor x, Tensor w, Tensor experts, boolean transposed) {
        checkMerged("mergedMatmul", x, w, experts, transposed);
        int e = experts.dim(0);
        int a = experts.dim(1);
        int b = experts.dim(2);
        Tensor merged = matmul(w, experts.reshape(e, a * b)).reshape(w.dim(0), a, b);
        return matmul(x, transposed ? merged.transpose(-1, -2) : merged);
    }

    /**
     * The gradients of y = {@link #mergedMatmul}(x, w, experts, true) given dy [S, T, a] (spec §3.2):
     * with dM̄_s = dy_sᵀ · x_s, returns {dw [S, E] with dw[s, e] = ⟨dM̄_s, experts[e]⟩, dExperts [E, a, b] =
     * Σ_s w[s, e] · dM̄_s}. (dx is {@code mergedMatmul(dy, w, experts, false)}.)
     */
    default Tensor[] mergedMatmulGrads(Tensor x, Tensor dy, Tensor w, Tensor experts) {
        checkMerged("mergedMatmulGrads", x, w, experts, true);
        int s = w.dim(0);
        int e = experts.dim(0);
        int a = experts.dim(1);
        int b = experts.dim(2);
        if (dy.rank() != 3 || dy.dim(0) != s || dy.dim(1) != x.dim(1) || dy.dim(2) != a) {
            throw new IllegalArgumentException("mergedMatmulGrads: dy " + dev.lory4j.tensor.Shapes.str(dy.shape())
                    + " is not [" + s + ", " + x.dim(1) + ", " + a + "]");
        }
        Tensor dm = matmul(dy.transpose(-1, -2), x).reshape(s, a * b);
        Tensor flat = experts.reshape(e, a * b);
        return new Tensor[] {matmul(dm, flat.transpose(0, 1)), matmul(w.transpose(0, 1), dm).reshape(e, a, b)};
    }

    /**
     * The LLaMA feed-forward block y = (silu(x · W1ᵀ) ⊙ (x · W3ᵀ)) · W2ᵀ for x [..., d], W1 and W3 [f, d], W2
     * [d', f]; y [..., d']. The default composes it from {@link #matmul}, {@link #unary} and {@link #binary}; a
     * device backend may keep the [.., f] intermediates on its device.
     */
    default Tensor swiGlu(Tensor x, Tensor w1, Tensor w3, Tensor w2) {
        checkSwiGlu("swiGlu", x, w1, w3, w2);
        Tensor x2 = x.reshape(-1, x.dim(-1));
        Tensor z = binary(BinaryOp.MUL, unary(UnaryOp.SILU, matmul(x2, w1.transpose(0, 1))),
                matmul(x2, w3.transpose(0, 1)));
        int[] shape = x.shape();
        shape[shape.length - 1] = w2.dim(0);
        return matmul(z, w2.transpose(0, 1)).reshape(shape);
    }

    /**
     * The gradients of y = {@link #swiGlu}(x, w1, w3, w2) given dy: {dx, dW1, dW3, dW2}. With a = x W1ᵀ, b = x W3ᵀ,
     * z = silu(a) ⊙ b: dz = dy W2, da = dz ⊙ b ⊙ silu'(a), db = dz ⊙ silu(a), dx = da W1 + db W3, dW1 = daᵀ x,
     * dW3 = dbᵀ x, dW2 = dyᵀ z (silu'(a) = σ(a)(1 + a(1 − σ(a)))).
     */
    default Tensor[] swiGluGrads(Tensor x, Tensor dy, Tensor w1, Tensor w3, Tensor w2) {
        checkSwiGlu("swiGluGrads", x, w1, w3, w2);
        int[] yShape = x.shape();
        yShape[yShape.length - 1] = w2.dim(0);
        if (!java.util.Arrays.equals(dy.shape(), yShape)) {
            throw new IllegalArgumentException("swiGluGrads: dy " + dev.lory4j.tensor.Shapes.str(dy.shape())
                    + " is not " + dev.lory4j.tensor.Shapes.str(yShape));
        }
        Tensor x2 = x.reshape(-1, x.dim(-1));
        Tensor g = dy.reshape(-1, dy.dim(-1));
        Tensor a = matmul(x2, w1.transpose(0, 1));
        Tensor b = matmul(x2, w3.transpose(0, 1));
        Tensor[] gates = gateGrads(a, b, matmul(g, w2));
        Tensor da = gates[0];
        Tensor db = gates[1];
        Tensor dx = binary(BinaryOp.ADD, matmul(da, w1), matmul(db, w3)).reshape(x.shape());
        return new Tensor[] {dx, matmul(da.transpose(0, 1), x2), matmul(db.transpose(0, 1), x2),
            matmul(g.transpose(0, 1), gates[2])};
    }

    /**
     * The gate of a SwiGLU block z = silu(a) ⊙ b and its backward for dz: {da = dz ⊙ b ⊙ silu'(a), db = dz ⊙ silu(a),
     * z}, with silu'(a) = σ(a)(1 + a(1 − σ(a))).
     */
    private Tensor[] gateGrads(Tensor a, Tensor b, Tensor dz) {
        Tensor sig = unary(UnaryOp.SIGMOID, a);
        Tensor silu = binary(BinaryOp.MUL, a, sig);
        Tensor one = Tensor.scalar(1f);
        Tensor dsilu = binary(BinaryOp.MUL, sig,
                binary(BinaryOp.ADD, one, binary(BinaryOp.MUL, a, binary(BinaryOp.SUB, one, sig))));
        return new Tensor[] {binary(BinaryOp.MUL, binary(BinaryOp.MUL, dz, b), dsilu), binary(BinaryOp.MUL, dz, silu),
            binary(BinaryOp.MUL, silu, b)};
    }

    /**
     * The feed-forward block of a Lory layer (spec §2.2, §2.4): for every s, y_s = (silu(h_s Ḡ_sᵀ) ⊙ (h_s Ū_sᵀ)) D̄_sᵀ
     * with the experts merged by the routing weights, Ḡ_s = Σ_e w[s, e] · gate[e] (likewise Ū, D̄). Shapes: h [S, T, d],
     * w [S, E], gate and up [E, f, d], down [E, d', f]; y [S, T, d']. The default composes it from
     * {@link #mergedMatmul}; a device backend may keep the experts, the merged matrices and the [S, T, f]
     * intermediates on its device.
     */
    default Tensor mergedSwiGlu(Tensor h, Tensor w, Tensor gate, Tensor up, Tensor down) {
        checkMergedSwiGlu("mergedSwiGlu", h, w, gate, up, down);
        Tensor z = binary(BinaryOp.MUL, unary(UnaryOp.SILU, mergedMatmul(h, w, gate, true)),
                mergedMatmul(h, w, up, true));
        return mergedMatmul(z, w, down, true);
    }

    /**
     * The gradients of y = {@link #mergedSwiGlu}(h, w, gate, up, down) given dy [S, T, d'] (spec §3.3 through the
     * merge, §3.2): {dh, dw, dGate, dUp, dDown}. With a = h Ḡᵀ, b = h Ūᵀ, z = silu(a) ⊙ b per segment:
     * dz = dy D̄, da = dz ⊙ b ⊙ silu'(a), db = dz ⊙ silu(a), dh = da Ḡ + db Ū, and for each of the three merged
     * products the merge gradients of {@link #mergedMatmulGrads} (dw sums the three).
     */
    default Tensor[] mergedSwiGluGrads(Tensor h, Tensor dy, Tensor w, Tensor gate, Tensor up, Tensor down) {
        checkMergedSwiGlu("mergedSwiGluGrads", h, w, gate, up, down);
        if (dy.rank() != 3 || dy.dim(0) != h.dim(0) || dy.dim(1) != h.dim(1) || dy.dim(2) != down.dim(1)) {
            throw new IllegalArgumentException("mergedSwiGluGrads: dy " + Shapes.str(dy.shape()) + " is not ["
                    + h.dim(0) + ", " + h.dim(1) + ", " + down.dim(1) + "]");
        }
        Tensor a = mergedMatmul(h, w, gate, true);
        Tensor b = mergedMatmul(h, w, up, true);
        Tensor[] gates = gateGrads(a, b, mergedMatmul(dy, w, down, false));
        Tensor[] dDown = mergedMatmulGrads(gates[2], dy, w, down);
        Tensor[] dGate = mergedMatmulGrads(h, gates[0], w, gate);
        Tensor[] dUp = mergedMatmulGrads(h, gates[1], w, up);
        Tensor dh = binary(BinaryOp.ADD, mergedMatmul(gates[0], w, gate, false), mergedMatmul(gates[1], w, up, false));
        Tensor dw = binary(BinaryOp.ADD, binary(BinaryOp.ADD, dGate[0], dUp[0]), dDown[0]);
        return new Tensor[] {dh, dw, dGate[1], dUp[1], dDown[1]};
    }

    /** Checks a Lory feed-forward block: h [S, T, d], w [S, E], gate and up [E, f, d], down [E, d', f]. */
    static void checkMergedSwiGlu(String op, Tensor h, Tensor w, Tensor gate, Tensor up, Tensor down) {
        if (h.rank() != 3 || w.rank() != 2 || gate.rank() != 3 || down.rank() != 3
                || !java.util.Arrays.equals(gate.shape(), up.shape()) || w.dim(0) != h.dim(0)
                || w.dim(1) != gate.dim(0) || down.dim(0) != gate.dim(0) || h.dim(2) != gate.dim(2)
                || down.dim(2) != gate.dim(1)) {
            throw new IllegalArgumentException(op + ": h " + Shapes.str(h.shape()) + ", w " + Shapes.str(w.shape())
                    + ", gate " + Shapes.str(gate.shape()) + ", up " + Shapes.str(up.shape()) + " and down "
                    + Shapes.str(down.shape())
                    + " do not fit (want h [S, T, d], w [S, E], gate and up [E, f, d], down [E, d', f])");
        }
    }

    /**
     * Scaled dot-product attention softmax(scale · q kᵀ) v over the last two axes of q [..., Lq, D], k [..., Lk, D]
     * and v [..., Lk, Dv] (same leading axes), causal (query i sees keys j <= i + Lk - Lq) or not. The default
     * composes it from {@link #matmul} and the softmaxes; a device backend may keep the [.., Lq, Lk] scores on
     * its device.
     */
    default Tensor attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
        checkAttention("attention", q, k, v, causal);
        Tensor s = matmul(binary(BinaryOp.MUL, q, Tensor.scalar(scale)), k.transpose(-1, -2));
        return matmul(causal ? causalSoftmax(s) : softmax(s, s.rank() - 1, false), v);
    }

    /**
     * The gradients {dq, dk, dv} of {@link #attention} given dOut [..., Lq, Dv], recomputing the probabilities p:
     * dv = pᵀ dOut, ds = scale · p ⊙ (dp − rowsum(dp ⊙ p)) with dp = dOut vᵀ, dq = ds k, dk = dsᵀ q.
     */
    default Tensor[] attentionGrads(Tensor q, Tensor k, Tensor v, Tensor dOut, boolean causal, float scale) {
        checkAttention("attentionGrads", q, k, v, causal);
        int[] outShape = q.shape();
        outShape[outShape.length - 1] = v.dim(-1);
        if (!java.util.Arrays.equals(dOut.shape(), outShape)) {
            throw new IllegalArgumentException("attentionGrads: dOut " + dev.lory4j.tensor.Shapes.str(dOut.shape())
                    + " is not " + dev.lory4j.tensor.Shapes.str(outShape));
        }
        Tensor s = matmul(binary(BinaryOp.MUL, q, Tensor.scalar(scale)), k.transpose(-1, -2));
        Tensor p = causal ? causalSoftmax(s) : softmax(s, s.rank() - 1, false);
        Tensor ds = softmaxBackward(p, matmul(dOut, v.transpose(-1, -2)), scale);
        return new Tensor[] {matmul(ds, k), matmul(ds.transpose(-1, -2), q), matmul(p.transpose(-1, -2), dOut)};
    }

    /**
     * The causal self-attention block of a decoder layer (LLaMA; no key-value cache): with x [B, L, d] as rows,
     * q = rope(x Wqᵀ), k = rope(x Wkᵀ), v = x Wvᵀ, each split into {@code heads} heads of size D, o =
     * {@link #attention}(q, k, v, causal, 1/√D) with the heads joined again, and y = o Woᵀ [B, L, d']. Wq, Wk and Wv
     * are [heads·D, d], Wo [d', heads·D]; cos and sin [L, D] are the rotary tables (rotate-half convention:
     * rope(u) = u ⊙ cos + rotate_half(u) ⊙ sin with rotate_half([a, b]) = [−b, a]) at the tokens' positions. The
     * default composes it from {@link #matmul}, {@link #binary} and {@link #attention}; a device backend may run the
     * whole block there, its four weights resident.
     */
    default Tensor selfAttention(Tensor x, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor cos, Tensor sin,
                                 int heads) {
        checkSelfAttention("selfAttention", x, wq, wk, wv, wo, cos, sin, heads);
        int b = x.dim(0);
        int l = x.dim(1);
        int dim = wq.dim(0) / heads;
        Tensor x2 = x.reshape(b * l, x.dim(2));
        Tensor q = rope(splitHeads(matmul(x2, wq.transpose(0, 1)), b, l, heads), cos, sin, false);
        Tensor k = rope(splitHeads(matmul(x2, wk.transpose(0, 1)), b, l, heads), cos, sin, false);
        Tensor v = splitHeads(matmul(x2, wv.transpose(0, 1)), b, l, heads);
        Tensor o = attention(q, k, v, true, (float) (1 / Math.sqrt(dim)));
        return matmul(joinHeads(o), wo.transpose(0, 1)).reshape(b, l, wo.dim(0));
    }

    /**
     * The gradients {dx, dWq, dWk, dWv, dWo} of y = {@link #selfAttention} given dy [B, L, d'], recomputing the
     * forward pass: dWo = dyᵀ o, do = dy Wo, the attention gradients of {@link #attentionGrads}, the rotation undone
     * on dq and dk (rope is linear: its transpose is u ⊙ cos − rotate_half(u ⊙ sin)), then dx = dq Wq + dk Wk + dv Wv
     * and dW = dᵀ x for each projection.
     */
    default Tensor[] selfAttentionGrads(Tensor x, Tensor dy, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor cos,
                                        Tensor sin, int heads) {
        checkSelfAttention("selfAttentionGrads", x, wq, wk, wv, wo, cos, sin, heads);
        int b = x.dim(0);
        int l = x.dim(1);
        if (dy.rank() != 3 || dy.dim(0) != b || dy.dim(1) != l || dy.dim(2) != wo.dim(0)) {
            throw new IllegalArgumentException("selfAttentionGrads: dy " + Shapes.str(dy.shape()) + " is not [" + b
                    + ", " + l + ", " + wo.dim(0) + "]");
        }
        int dim = wq.dim(0) / heads;
        float scale = (float) (1 / Math.sqrt(dim));
        Tensor x2 = x.reshape(b * l, x.dim(2));
        Tensor q = rope(splitHeads(matmul(x2, wq.transpose(0, 1)), b, l, heads), cos, sin, false);
        Tensor k = rope(splitHeads(matmul(x2, wk.transpose(0, 1)), b, l, heads), cos, sin, false);
        Tensor v = splitHeads(matmul(x2, wv.transpose(0, 1)), b, l, heads);
        Tensor dy2 = dy.reshape(b * l, wo.dim(0));
        Tensor dWo = matmul(dy2.transpose(0, 1), joinHeads(attention(q, k, v, true, scale)));
        Tensor[] g = attentionGrads(q, k, v, splitHeads(matmul(dy2, wo), b, l, heads), true, scale);
        Tensor dq = joinHeads(rope(g[0], cos, sin, true));
        Tensor dk = joinHeads(rope(g[1], cos, sin, true));
        Tensor dv = joinHeads(g[2]);
        Tensor dx = binary(BinaryOp.ADD, binary(BinaryOp.ADD, matmul(dq, wq), matmul(dk, wk)), matmul(dv, wv));
        return new Tensor[] {dx.reshape(x.shape()), matmul(dq.transpose(0, 1), x2), matmul(dk.transpose(0, 1), x2),
            matmul(dv.transpose(0, 1), x2), dWo};
    }

    /** [B·L, H·D] rows as heads [B, H, L, D] (a view). */
    private static Tensor splitHeads(Tensor t, int b, int l, int heads) {
        return t.reshape(b, l, heads, t.dim(1) / heads).transpose(1, 2);
    }

    /** Heads [B, H, L, D] joined as rows [B·L, H·D] (a copy). */
    private static Tensor joinHeads(Tensor t) {
        return t.transpose(1, 2).reshape(t.dim(0) * t.dim(2), t.dim(1) * t.dim(3));
    }

    /**
     * Rotary embedding of u [..., L, D] with tables [L, D]: u ⊙ cos + rotate_half(u) ⊙ sin, or its transpose
     * u ⊙ cos − rotate_half(u ⊙ sin) ({@code transposed}); rotate_half is the product with a ±1 permutation matrix.
     */
    private Tensor rope(Tensor u, Tensor cos, Tensor sin, boolean transposed) {
        int dim = u.dim(-1);
        int half = dim / 2;
        float[] r = new float[dim * dim]; // u · r = rotate_half(u) = [-u2, u1]
        for (int i = 0; i < half; i++) {
            r[(i + half) * dim + i] = -1f;
            r[i * dim + i + half] = 1f;
        }
        Tensor rot = Tensor.wrap(r, dim, dim);
        Tensor c = binary(BinaryOp.MUL, u, cos);
        return transposed ? binary(BinaryOp.SUB, c, matmul(binary(BinaryOp.MUL, u, sin), rot))
                : binary(BinaryOp.ADD, c, binary(BinaryOp.MUL, matmul(u, rot), sin));
    }

    /** Checks a self-attention block: x [B, L, d], Wq, Wk, Wv [H·D, d] with D even, Wo [d', H·D], cos, sin [L, D]. */
    static void checkSelfAttention(String op, Tensor x, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor cos,
                                   Tensor sin, int heads) {
        boolean ok = x.rank() == 3 && wq.rank() == 2 && wo.rank() == 2 && cos.rank() == 2 && heads > 0
                && java.util.Arrays.equals(wq.shape(), wk.shape()) && java.util.Arrays.equals(wq.shape(), wv.shape())
                && wq.dim(1) == x.dim(2) && wq.dim(0) % heads == 0 && (wq.dim(0) / heads) % 2 == 0
                && wo.dim(1) == wq.dim(0) && java.util.Arrays.equals(cos.shape(), sin.shape())
                && cos.dim(0) == x.dim(1) && cos.dim(1) == wq.dim(0) / heads;
        if (!ok) {
            throw new IllegalArgumentException(op + ": x " + Shapes.str(x.shape()) + ", Wq " + Shapes.str(wq.shape())
                    + ", Wk " + Shapes.str(wk.shape()) + ", Wv " + Shapes.str(wv.shape()) + ", Wo "
                    + Shapes.str(wo.shape()) + ", cos " + Shapes.str(cos.shape()) + ", sin " + Shapes.str(sin.shape())
                    + " and " + heads + " heads do not fit (want x [B, L, d], Wq, Wk, Wv [H·D, d] with D even, "
                    + "Wo [d', H·D], cos and sin [L, D])");
        }
    }

    /** Checks attention operands: q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] with the same leading axes. */
    static void checkAttention(String op, Tensor q, Tensor k, Tensor v, boolean causal) {
        int rank = q.rank();
        if (rank < 2 || k.rank() != rank || v.rank() != rank || q.dim(-1) != k.dim(-1) || k.dim(-2) != v.dim(-2)
                || (causal && q.dim(-2) > k.dim(-2))
                || !java.util.Arrays.equals(q.shape(), 0, rank - 2, k.shape(), 0, rank - 2)
                || !java.util.Arrays.equals(q.shape(), 0, rank - 2, v.shape(), 0, rank - 2)) {
            throw new IllegalArgumentException(op + ": q " + dev.lory4j.tensor.Shapes.str(q.shape()) + ", k "
                    + dev.lory4j.tensor.Shapes.str(k.shape()) + ", v " + dev.lory4j.tensor.Shapes.str(v.shape())
                    + ": need [..., Lq, D], [..., Lk, D], [..., Lk, Dv] with the same leading axes"
                    + (causal ? " and Lq <= Lk" : ""));
        }
    }

    /** Checks the shapes of a SwiGLU block: x [..., d], W1 and W3 [f, d], W2 [d', f]. */
    static void checkSwiGlu(String op, Tensor x, Tensor w1, Tensor w3, Tensor w2) {
        if (x.rank() < 1 || w1.rank() != 2 || w3.rank() != 2 || w2.rank() != 2 || x.dim(-1) != w1.dim(1)
                || !java.util.Arrays.equals(w1.shape(), w3.shape()) || w2.dim(1) != w1.dim(0)) {
            throw new IllegalArgumentException(op + ": x " + dev.lory4j.tensor.Shapes.str(x.shape()) + ", W1 "
                    + dev.lory4j.tensor.Shapes.str(w1.shape()) + ", W3 " + dev.lory4j.tensor.Shapes.str(w3.shape())
                    + " and W2 " + dev.lory4j.tensor.Shapes.str(w2.shape())
                    + " do not fit (want x [..., d], W1 and W3 [f, d], W2 [d', f])");
        }
    }

    /** Checks the shapes of a merged product: x [S, T, b] (transposed) or [S, T, a], w [S, E], experts [E, a, b]. */
    static void checkMerged(String op, Tensor x, Tensor w, Tensor experts, boolean transposed) {
        int inner = experts.rank() != 3 ? -1 : transposed ? experts.dim(2) : experts.dim(1);
        if (experts.rank() != 3 || w.rank() != 2 || x.rank() != 3 || w.dim(1) != experts.dim(0)
                || x.dim(0) != w.dim(0) || x.dim(2) != inner) {
            throw new IllegalArgumentException(op + ": x " + dev.lory4j.tensor.Shapes.str(x.shape()) + ", w "
                    + dev.lory4j.tensor.Shapes.str(w.shape()) + " and experts "
                    + dev.lory4j.tensor.Shapes.str(experts.shape())
                    + " do not fit (want x [S, T, " + (inner < 0 ? "?" : inner) + "], w [S, E], experts [E, a, b])");
        }
    }

    /**
     * The gradients of y = x · Wᵀ (a linear layer) for x [n, in], dy [n, out] and W [out, in]: {dx = dy · W,
     * dW = dyᵀ · x}. The default composes them from {@link #matmul}; a device backend may return dW as a tensor whose
     * values stay on its device ({@link dev.lory4j.tensor.Storage#deviceNewer}) until the optimizer uses them there.
     */
    default Tensor[] linearGrads(Tensor x, Tensor dy, Tensor w) {
        if (x.rank() != 2 || dy.rank() != 2 || w.rank() != 2 || x.dim(0) != dy.dim(0) || x.dim(1) != w.dim(1)
                || dy.dim(1) != w.dim(0)) {
            throw new IllegalArgumentException("linearGrads: x " + Shapes.str(x.shape()) + ", dy "
                    + Shapes.str(dy.shape()) + ", W " + Shapes.str(w.shape())
                    + " do not fit (want x [n, in], dy [n, out], W [out, in])");
        }
        return new Tensor[] {matmul(dy, w), matmul(dy.transpose(0, 1), x)};
    }

    /**
     * The mean cross-entropy of the logits x · Wᵀ (a language model's head) against {@code targets}, rows whose target
     * is {@code ignoreIndex} skipped: x [n, d], W [V, d], one target per row; NaN when every row is skipped. The
     * default computes the [n, V] logits here; a device backend may keep them on its device, so that only the loss
     * comes out.
     */
    default float linearCrossEntropy(Tensor x, Tensor w, int[] targets, int ignoreIndex) {
        int count = checkHead("linearCrossEntropy", x, w, targets, ignoreIndex);
        Tensor lsm = softmax(matmul(x, w.transpose(0, 1)), 1, true).contiguous();
        float[] l = lsm.storage().peek();
        int v = w.dim(0);
        double total = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != ignoreIndex) {
                total -= l[lsm.offset() + i * v + targets[i]];
            }
        }
        return count == 0 ? Float.NaN : (float) (total / count);
    }

    /**
     * The gradients {dx, dW} of g · {@link #linearCrossEntropy}(x, w, targets, ignoreIndex): with p = softmax(x Wᵀ)
     * and c the number of rows not skipped, dz = (p − onehot(targets)) · g / c on those rows (0 on the others),
     * dx = dz W and dW = dzᵀ x.
     */
    default Tensor[] linearCrossEntropyGrads(Tensor x, Tensor w, int[] targets, int ignoreIndex, float g) {
        int count = checkHead("linearCrossEntropyGrads", x, w, targets, ignoreIndex);
        Tensor p = softmax(matmul(x, w.transpose(0, 1)), 1, false).contiguous();
        int v = w.dim(0);
        float scale = count == 0 ? 0f : g / count;
        float[] dz = new float[targets.length * v];
        float[] pd = p.storage().peek();
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != ignoreIndex) {
                for (int j = 0; j < v; j++) {
                    dz[i * v + j] = pd[p.offset() + i * v + j] * scale;
                }
                dz[i * v + targets[i]] -= scale;
            }
        }
        Tensor d = Tensor.wrap(dz, targets.length, v);
        return new Tensor[] {matmul(d, w), matmul(d.transpose(0, 1), x)};
    }

    /**
     * Checks a language-model head with its targets (x [n, d], W [V, d], n targets each ignoreIndex or a class) and
     * returns the number of rows not skipped.
     */
    static int checkHead(String op, Tensor x, Tensor w, int[] targets, int ignoreIndex) {
        if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(1) || targets.length != x.dim(0)) {
            throw new IllegalArgumentException(op + ": x " + Shapes.str(x.shape()) + ", W " + Shapes.str(w.shape())
                    + " and " + targets.length + " targets do not fit (want x [n, d], W [V, d], n targets)");
        }
        int count = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] == ignoreIndex) {
                continue;
            }
            if (targets[i] < 0 || targets[i] >= w.dim(0)) {
                throw new IndexOutOfBoundsException(op + ": target " + targets[i] + " at row " + i
                        + " out of range for " + w.dim(0) + " classes");
            }
            count++;
        }
        return count;
    }

    /** Σ t² over all elements (double accumulation on the CPU): gradient clipping's squared norm of one tensor. */
    default double sumOfSquares(Tensor t) {
        Tensor c = t.contiguous();
        return dev.lory4j.tensor.kernels.Optimizers.sumOfSquares(c.data(), c.offset(), c.numel());
    }

    /**
     * t · s, for gradient clipping; a backend may scale a gradient it holds on its device in place there and return
     * t itself (the default returns a new tensor).
     */
    default Tensor scaled(Tensor t, float s) {
        return t.mul(s);
    }

    /** Checks that the lists of parameters, gradients and both moments of one optimizer step are equally long. */
    static void checkSameCount(String op, java.util.List<Tensor> ps, java.util.List<Tensor> gs,
                               java.util.List<Tensor> ms, java.util.List<Tensor> vs) {
        if (gs.size() != ps.size() || ms.size() != ps.size() || vs.size() != ps.size()) {
            throw new IllegalArgumentException(op + ": " + ps.size() + " parameters, " + gs.size() + " gradients, "
                    + ms.size() + " first and " + vs.size() + " second moments (want one of each per parameter)");
        }
    }

    /** Σ over the tensors of {@link #sumOfSquares(Tensor)}: one call for all gradients, which a device may batch. */
    default double sumOfSquares(java.util.List<Tensor> ts) {
        double s = 0;
        for (Tensor t : ts) {
            s += sumOfSquares(t);
        }
        return s;
    }

    /** {@link #scaled(Tensor, float)} of each tensor, in order: one call for all gradients, which a device may batch. */
    default java.util.List<Tensor> scaled(java.util.List<Tensor> ts, float s) {
        return ts.stream().map(t -> scaled(t, s)).toList();
    }

    /**
     * {@link #adamw(Tensor, Tensor, Tensor, Tensor, float, float, float, float, float, float, float)} of each
     * (p, g, m, v) at the same index, all with the same hyper-parameters: one call for an optimizer step, which a
     * device may batch.
     */
    default void adamw(java.util.List<Tensor> ps, java.util.List<Tensor> gs, java.util.List<Tensor> ms,
                       java.util.List<Tensor> vs, float lr, float beta1, float beta2, float eps, float weightDecay,
                       float bc1, float bc2) {
        checkSameCount("adamw", ps, gs, ms, vs);
        for (int i = 0; i < ps.size(); i++) {
            adamw(ps.get(i), gs.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps, weightDecay, bc1, bc2);
        }
    }

    /**
     * Tells the backend that the caller drops {@code t} (an optimizer clearing a gradient), so a device copy kept
     * only for it may be reused without first bringing it to the host. Nothing by default.
     */
    default void release(Tensor t) {}

    /** Where this backend computes, for reports (e.g. the GPU's name); the backend name by default. */
    default String deviceName() {
        return name();
    }

    /**
     * One AdamW step in place (decoupled weight decay, PyTorch's formula): m and v are the moment estimates,
     * bc1 = 1 - beta1^t and bc2 = 1 - beta2^t the bias corrections. All four tensors are contiguous and of one
     * shape. A backend may keep m and v on its device between steps (marked with Storage.deviceNewer).
     */
    default void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                       float weightDecay, float bc1, float bc2) {
        dev.lory4j.tensor.kernels.Optimizers.adamw(p.data(), p.offset(), g.data(), g.offset(), m.data(), m.offset(),
                v.data(), v.offset(), p.numel(), lr, beta1, beta2, eps, weightDecay, bc1, bc2);
    }

    /**
     * The whole decoder {@code spec} with these parameters (in {@link DecoderSpec}'s order) and RoPE tables cos, sin
     * [seqLen, D] as one program for batches of {@code batch} x {@code seqLen} tokens whose targets equal to
     * {@code ignoreIndex} are skipped; null (the default) when this backend has no such program, and the model runs
     * op by op.
     */
    default DecoderProgram decoder(DecoderSpec spec, Tensor[] params, Tensor cos, Tensor sin, int batch, int seqLen,
                                   int ignoreIndex) {
        return null;
    }

    /** Bytes this backend copied between the host and its device since it was created (0 for the CPU): for reports. */
    default long bytesCopied() {
        return 0;
    }

    /**
     * Seconds per product of a · b (2-D) over {@code times} back-to-back products with the operands kept where
     * the backend computes, after one untimed product (compilation, transfers): the throughput of the product
     * itself, for benchmarks. The CPU default simply times {@link #matmul}.
     */
    default double residentMatmulSeconds(Tensor a, Tensor b, int times) {
        matmul(a, b);
        long t0 = System.nanoTime();
        for (int i = 0; i < times; i++) {
            matmul(a, b);
        }
        return (System.nanoTime() - t0) / 1e9 / times;
    }
}
