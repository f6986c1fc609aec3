package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Gemm;
import dev.lory4j.tensor.kernels.Merge;

/**
 * The merge and the per-segment SwiGLU of a Lory layer as one op, with the gradients of spec §3.3 and §3.2
 * written out. For h [S, T, d] and routing weights w [S, E]:
 * <pre>
 *   forward   θ̄_s = Σ_i w_{s,i} θ_i  for θ = (W1, W3, W2)                  (§2.4; §3.2: one [S,E]·[E,a·b] product)
 *             A = h W̄1ᵀ,  B = h W̄3ᵀ,  Z = SiLU(A) ⊙ B,  y = Z W̄2ᵀ          (§2.2, batched over s)
 *   backward  dW̄2 = dYᵀ Z,  dZ = dY W̄2,  dA = dZ ⊙ B ⊙ SiLU'(A),  dB = dZ ⊙ SiLU(A),
 *             dW̄1 = dAᵀ h,  dW̄3 = dBᵀ h,  dh = dA W̄1 + dB W̄3                 (§3.3)
 *             ∂L/∂θ_i = Σ_s w_{s,i} dθ̄_s = (wᵀ · dθ̄flat)_i,  ∂L/∂w_{s,i} = Σ_θ ⟨dθ̄_s, θ_i⟩ = Σ_θ (dθ̄flat · θflatᵀ)_{s,i}
 * </pre>
 * The last two are the pair of products of §3.2; {@link Merge#backward} computes both in one pass over dθ̄.
 *
 * <p><b>Why one op, and where the merged weights live.</b> The merged weights and their gradients are the
 * largest tensors of a Lory layer (3·S·d·d' floats each: 68 MB per layer for the tiny benchmark config with
 * 32 segments), but they are only ever read by the products above. Built by autograd ops they were fresh
 * arrays every step: zero-filled by the JVM, then written, then (the merged ones, alive from forward to
 * backward) copied by every young collection they lived through. Here they go into reused buffers that the
 * GEMMs overwrite ({@code beta = 0}), so a step allocates nothing for them:
 * <ul>
 *   <li>Kept merged weights (the default, spec §2.9 "store"): a buffer in the caller's {@link Site}, written by the
 *       forward pass and read by the backward pass. If another forward pass of the same layer overwrote it in
 *       between (two forward passes before one backward pass), the backward pass notices by the buffer's
 *       write count and merges again.</li>
 *   <li>Recomputed merged weights (spec §2.9 "recompute option", {@link Composites.Merged#recompute()}): a
 *       per-thread scratch buffer, merged again in the backward pass; the layer keeps nothing.</li>
 *   <li>The merged-weight gradients dθ̄ are needed only inside the backward pass: a per-thread scratch buffer.</li>
 * </ul>
 * The per-thread buffers stay allocated (3·S·d·d' floats each, for the largest S·d·d' seen) while the thread
 * lives. The merge and the SwiGLU products go through {@link Gemm} as {@code Tensor.matmul} would call them, so
 * the output equals that of the same equations written with autograd ops (the reference of {@link Composites#MERGED_SWIGLU});
 * gradients agree up to float rounding (the router gradient's sums run in another order), and nothing depends
 * on the thread count.
 */
final class CpuMergedSwiGlu implements Kernel<Composites.Merged> {
    private static final ThreadLocal<Buffer> MERGED_SCRATCH = ThreadLocal.withInitial(Buffer::new);
    private static final ThreadLocal<Buffer> GRAD_SCRATCH = ThreadLocal.withInitial(Buffer::new);

    /** A float buffer reused across calls: grown on demand, with a count of the writes into it. */
    static final class Buffer {
        private float[] data = new float[0];
        private long writes;

        /** The buffer with room for {@code size} floats (contents undefined), counted as one more write. */
        private float[] claim(int size) {
            if (data.length < size) {
                data = new float[size];
            }
            writes++;
            return data;
        }
    }

    /** What the forward pass keeps for the backward pass. */
    private record Saved(Tensor h, Tensor w, Tensor[] experts, Buffer buffer, float[] merged, long written,
                         Tensor a, Tensor b, Tensor z) {}

    @Override
    public Tensor forward(Call<Composites.Merged> call) {
        if (call.input(4).dim(1) != call.input(0).dim(2)) {
            return null; // written for a block that maps d back to d (a Lory layer); others take the reference
        }
        Tensor ht = call.input(0).contiguous();
        Tensor wt = call.input(1).contiguous();
        Tensor[] experts = {call.input(2).contiguous(), call.input(3).contiguous(), call.input(4).contiguous()};
        int s = ht.dim(0);
        int t = ht.dim(1);
        int d = ht.dim(2);
        int di = experts[0].dim(1);
        int p = di * d; // floats per merged matrix; W̄1_s is [d', d] at s·p, W̄3_s at (S + s)·p, W̄2_s [d, d'] at (2S + s)·p
        boolean keep = call.recording() && !call.args().recompute() && call.site() != null;
        Buffer buffer = keep ? call.site().scratch("mergedSwiGlu.kept", Buffer::new) : MERGED_SCRATCH.get();
        float[] m = merge(wt, experts, buffer);

        float[] a = new float[s * t * di];
        float[] b = new float[s * t * di];
        bmm(s, false, true, t, di, d, ht.data(), ht.offset(), m, 0, 0f, a, 0); // A = h W̄1ᵀ
        bmm(s, false, true, t, di, d, ht.data(), ht.offset(), m, s * p, 0f, b, 0); // B = h W̄3ᵀ
        Tensor at = Tensor.wrap(a, s, t, di);
        Tensor bt = Tensor.wrap(b, s, t, di);
        Tensor z = Tensor.empty(s, t, di);
        Elementwise.siluMul(a, 0, b, 0, z.data(), z.offset(), s * t * di); // Z = SiLU(A) ⊙ B
        float[] y = new float[s * t * d];
        bmm(s, false, true, t, d, di, z.data(), z.offset(), m, 2 * s * p, 0f, y, 0); // y = Z W̄2ᵀ
        if (call.recording()) {
            call.save(new Saved(ht, wt, experts, keep ? buffer : null, m, buffer.writes, at, bt, z));
        }
        return Tensor.wrap(y, s, t, d);
    }

    @Override
    public Tensor[] backward(Call<Composites.Merged> call, Tensor y, Tensor gradOut, boolean[] needs) {
        Saved sv = (Saved) call.saved();
        Tensor ht = sv.h();
        Tensor wt = sv.w();
        Tensor[] experts = sv.experts();
        int s = ht.dim(0);
        int t = ht.dim(1);
        int d = ht.dim(2);
        int di = experts[0].dim(1);
        int p = di * d;
        Tensor at = sv.a();
        Tensor bt = sv.b();
        Tensor z = sv.z();
        // the kept merged weights, unless another forward pass of the same site wrote the buffer since
        float[] mb = sv.buffer() != null && sv.buffer().writes == sv.written()
                ? sv.merged() : merge(wt, experts, MERGED_SCRATCH.get());
        Tensor g = gradOut.contiguous();
        float[] dm = GRAD_SCRATCH.get().claim(3 * s * p);
        bmm(s, true, false, d, di, t, g.data(), g.offset(), z.data(), z.offset(), 0f, dm, 2 * s * p); // dW̄2 = dYᵀ Z
        float[] dz = new float[s * t * di];
        bmm(s, false, false, t, di, d, g.data(), g.offset(), mb, 2 * s * p, 0f, dz, 0); // dZ = dY W̄2
        Tensor dA = Tensor.empty(s, t, di);
        Tensor dB = Tensor.empty(s, t, di);
        // dA = dZ ⊙ B ⊙ SiLU'(A) with SiLU'(a) = σ(a)(1 + a(1 − σ(a))), dB = dZ ⊙ SiLU(A), in one pass
        Elementwise.siluMulBackward(at.data(), at.offset(), bt.data(), bt.offset(), dz, 0, dA.data(), dA.offset(),
                dB.data(), dB.offset(), s * t * di);
        bmm(s, true, false, di, d, t, dA.data(), dA.offset(), ht.data(), ht.offset(), 0f, dm, 0); // dW̄1 = dAᵀ h
        bmm(s, true, false, di, d, t, dB.data(), dB.offset(), ht.data(), ht.offset(), 0f, dm, s * p); // dW̄3 = dBᵀ h

        Tensor dh = null;
        if (needs[0]) {
            float[] dhData = new float[s * t * d];
            bmm(s, false, false, t, d, di, dA.data(), dA.offset(), mb, 0, 0f, dhData, 0); // dA W̄1
            bmm(s, false, false, t, d, di, dB.data(), dB.offset(), mb, s * p, 1f, dhData, 0); // + dB W̄3
            dh = Tensor.wrap(dhData, s, t, d);
        }
        int e = wt.dim(1);
        float[] dw = needs[1] ? new float[s * e] : null;
        Tensor[] dExperts = new Tensor[3];
        for (int k = 0; k < 3; k++) {
            // §3.2 backward of θ̄flat = w · θflat, one pass over dθ̄: ∂L/∂θ_i = Σ_s w_{s,i} dθ̄_s [E, p] and
            // ∂L/∂w_{s,i} += ⟨dθ̄_s, θ_i⟩ [S, E].
            float[] de = needs[2 + k] ? new float[e * p] : null;
            Merge.backward(s, e, p, wt.data(), wt.offset(), experts[k].data(), experts[k].offset(), dm, k * s * p,
                    de, 0, dw, 0, k == 0 ? 0f : 1f);
            if (de != null) {
                dExperts[k] = Tensor.wrap(de, experts[k].shape());
            }
        }
        return new Tensor[] {dh, dw == null ? null : Tensor.wrap(dw, s, e), dExperts[0], dExperts[1],
            dExperts[2]};
    }

    /** The three merged matrices of every s (spec §3.2: W̄flat = w · Wflat, one product per matrix) into buffer. */
    private static float[] merge(Tensor w, Tensor[] experts, Buffer buffer) {
        int s = w.dim(0);
        int e = w.dim(1);
        int p = experts[0].numel() / e;
        float[] m = buffer.claim(3 * s * p);
        for (int k = 0; k < 3; k++) {
            Gemm.sgemm(false, false, s, p, e, 1f, w.data(), w.offset(), e, experts[k].data(), experts[k].offset(), p,
                    0f, m, k * s * p, p);
        }
        return m;
    }

    /**
     * C_s = op(A_s) · op(B_s) + beta · C_s for s < batch, every matrix dense row-major (op(X) is m x k for A,
     * k x n for B; a transposed operand is stored k x m resp. n x k), the matrices of a batch back to back and C's
     * starting at cOff.
     */
    private static void bmm(int batch, boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff,
                            float[] b, int bOff, float beta, float[] c, int cOff) {
        Gemm.sgemmBatched(batch, transA, transB, m, n, k, 1f, a, aOff, m * k, transA ? m : k, b, bOff, k * n,
                transB ? k : n, beta, c, cOff, m * n, n);
    }
}
