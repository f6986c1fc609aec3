package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;

/**
 * The device kernels, written as plain Java loops that TornadoVM compiles (one idea per method). Names end in
 * {@code Kernel}: a kernel named like an OpenCL built-in ({@code exp}, {@code add}) fails to build on PoCL.
 */
final class TornadoKernels {
    private TornadoKernels() {}

    /** Items per work-group edge of {@link #matmulKernel} (work groups of WG x WG items). */
    static final int WG = 16;
    /** Rows and columns of c computed by one work group of {@link #matmulKernel}: each item computes 4 x 4. */
    static final int BLOCK = 4 * WG;
    /** Steps of k staged in local memory at a time by {@link #matmulKernel}. */
    static final int BK = 16;

    /**
     * c[z] = a[z] b[z] for the z-th product of a batch (a [m,k], b [k,n], c [m,n] row-major; products
     * {@code strideA/B/C} floats apart; strideB = 0 shares one b). Element (i, kk) of a is
     * {@code a[i * aRow + kk * aCol]} and element (kk, j) of b is {@code b[kk * bRow + j * bCol]}, so a transposed
     * operand (a weight used as Wᵀ, an activation as xᵀ) is read where it lies, with no transposed copy; one of
     * each pair of strides is 1. TornadoVM bakes the sizes and strides into the compiled kernel as constants, which
     * measured faster on an H100 than reading them from an array. Each work group computes a BLOCK x BLOCK block of
     * c, staging BK steps of k of a and b in local memory at a time (neighbouring items load neighbouring
     * addresses in either layout); each item keeps a 4 x 4 register tile of c: rows {@code ly + 16 i}, columns
     * {@code lx + 16 j}, so neighbouring items read and write neighbouring columns (coalesced) and read distinct
     * local-memory banks. Grid: x over column blocks, y over row blocks, z over the batch; items and loads outside
     * the matrices use zeros.
     */
    static void matmulKernel(KernelContext ctx, float[] a, float[] b, float[] c, int m, int n, int k, int strideA,
                             int strideB, int strideC, int aRow, int aCol, int bRow, int bCol) {
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int z = ctx.groupIdz;
        int aOff = z * strideA;
        int bOff = z * strideB;
        int cOff = z * strideC;
        int rowBase = BLOCK * ctx.groupIdy;
        int colBase = BLOCK * ctx.groupIdx;
        int row0 = rowBase + ly;
        int col0 = colBase + lx;
        int item = ly * WG + lx;
        float[] aTile = ctx.allocateFloatLocalArray(BK * BLOCK); // aTile[kk * BLOCK + r] (k-major)
        float[] bTile = ctx.allocateFloatLocalArray(BK * BLOCK); // bTile[kk * BLOCK + col]
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int t = 0; t < k; t += BK) {
            for (int l = 0; l < 4; l++) { // BLOCK x BK of a and BK x BLOCK of b: 4 loads of each per item
                int idx = item + l * WG * WG;
                // neighbouring items take neighbouring k where a's rows are contiguous, neighbouring rows otherwise
                int r = aCol == 1 ? idx / BK : idx % BLOCK;
                int ka = aCol == 1 ? idx % BK : idx / BLOCK;
                aTile[ka * BLOCK + r] = rowBase + r < m && t + ka < k
                        ? a[aOff + (rowBase + r) * aRow + (t + ka) * aCol] : 0f;
                int kb = bCol == 1 ? idx / BLOCK : idx % BK;
                int cb = bCol == 1 ? idx % BLOCK : idx / BK;
                bTile[kb * BLOCK + cb] = t + kb < k && colBase + cb < n
                        ? b[bOff + (t + kb) * bRow + (colBase + cb) * bCol] : 0f;
            }
            ctx.localBarrier();
            for (int kk = 0; kk < BK; kk++) {
                int o = kk * BLOCK;
                float a0 = aTile[o + ly];
                float a1 = aTile[o + ly + 16];
                float a2 = aTile[o + ly + 32];
                float a3 = aTile[o + ly + 48];
                float b0 = bTile[o + lx];
                float b1 = bTile[o + lx + 16];
                float b2 = bTile[o + lx + 32];
                float b3 = bTile[o + lx + 48];
                c00 += a0 * b0;
                c01 += a0 * b1;
                c02 += a0 * b2;
                c03 += a0 * b3;
                c10 += a1 * b0;
                c11 += a1 * b1;
                c12 += a1 * b2;
                c13 += a1 * b3;
                c20 += a2 * b0;
                c21 += a2 * b1;
                c22 += a2 * b2;
                c23 += a2 * b3;
                c30 += a3 * b0;
                c31 += a3 * b1;
                c32 += a3 * b2;
                c33 += a3 * b3;
            }
            ctx.localBarrier();
        }
        store(c, cOff, m, n, row0 + 0, col0 + 0, c00);
        store(c, cOff, m, n, row0 + 0, col0 + 16, c01);
        store(c, cOff, m, n, row0 + 0, col0 + 32, c02);
        store(c, cOff, m, n, row0 + 0, col0 + 48, c03);
        store(c, cOff, m, n, row0 + 16, col0 + 0, c10);
        store(c, cOff, m, n, row0 + 16, col0 + 16, c11);
        store(c, cOff, m, n, row0 + 16, col0 + 32, c12);
        store(c, cOff, m, n, row0 + 16, col0 + 48, c13);
        store(c, cOff, m, n, row0 + 32, col0 + 0, c20);
        store(c, cOff, m, n, row0 + 32, col0 + 16, c21);
        store(c, cOff, m, n, row0 + 32, col0 + 32, c22);
        store(c, cOff, m, n, row0 + 32, col0 + 48, c23);
        store(c, cOff, m, n, row0 + 48, col0 + 0, c30);
        store(c, cOff, m, n, row0 + 48, col0 + 16, c31);
        store(c, cOff, m, n, row0 + 48, col0 + 32, c32);
        store(c, cOff, m, n, row0 + 48, col0 + 48, c33);
    }

    /** c[cOff + row * n + col] = value when (row, col) lies inside the m x n matrix. */
    private static void store(float[] c, int cOff, int m, int n, int row, int col, float value) {
        if (row < m && col < n) {
            c[cOff + row * n + col] = value;
        }
    }

    /**
     * out[offset + c] = Σ x[i]² over chunk c of x (chunks of ceil(n / chunks) elements, in order); one item per chunk. The
     * host adds the chunks in double: a gradient's squared norm for clipping, with no atomics.
     */
    static void sumSquaresChunksKernel(KernelContext ctx, float[] x, float[] out, int chunks, int n, int offset) {
        int c = ctx.globalIdx;
        if (c < chunks) {
            int len = (n + chunks - 1) / chunks;
            int end = TornadoMath.min(n, (c + 1) * len);
            float sum = 0f;
            for (int i = c * len; i < end; i++) {
                sum += x[i] * x[i];
            }
            out[offset + c] = sum;
        }
    }

    /** x *= s[0] in place (s comes in an array so that one compiled kernel serves every scale). */
    static void scaleInPlaceKernel(KernelContext ctx, float[] x, float[] s, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            x[i] = x[i] * s[0];
        }
    }

    /**
     * Per row i of logits z [rows, v]: loss[i] = logsumexp(z_i) − z_i[t_i], or 0 when t_i is {@code ignore}. One item
     * per row (a loop over the v classes).
     */
    static void crossEntropyRowsKernel(KernelContext ctx, float[] z, int[] t, float[] loss, int rows, int v,
                                       int ignore) {
        int i = ctx.globalIdx;
        if (i < rows) {
            if (t[i] == ignore) {
                loss[i] = 0f;
            } else {
                float max = z[i * v];
                for (int j = 1; j < v; j++) {
                    max = TornadoMath.max(max, z[i * v + j]);
                }
                float sum = 0f;
                for (int j = 0; j < v; j++) {
                    sum += TornadoMath.exp(z[i * v + j] - max);
                }
                loss[i] = max + TornadoMath.log(sum) - z[i * v + t[i]];
            }
        }
    }

    /**
     * The logits' gradient of the mean cross-entropy: dz[i, j] = (softmax(z_i)_j − [j == t_i]) · s[0] on rows whose
     * target is not {@code ignore} (s[0] = upstream gradient / rows counted), 0 on the others. One item per row.
     */
    static void crossEntropyGradRowsKernel(KernelContext ctx, float[] z, int[] t, float[] s, float[] dz, int rows,
                                           int v, int ignore) {
        int i = ctx.globalIdx;
        if (i < rows) {
            if (t[i] == ignore) {
                for (int j = 0; j < v; j++) {
                    dz[i * v + j] = 0f;
                }
            } else {
                float max = z[i * v];
                for (int j = 1; j < v; j++) {
                    max = TornadoMath.max(max, z[i * v + j]);
                }
                float sum = 0f;
                for (int j = 0; j < v; j++) {
                    sum += TornadoMath.exp(z[i * v + j] - max);
                }
                float scale = s[0] / sum;
                for (int j = 0; j < v; j++) {
                    dz[i * v + j] = TornadoMath.exp(z[i * v + j] - max) * scale;
                }
                dz[i * v + t[i]] -= s[0];
            }
        }
    }

    /** x[i] = 0 for i < n: gives a device buffer its first values without copying host zeros. */
    static void zeroKernel(KernelContext ctx, float[] x, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            x[i] = 0f;
        }
    }

    /** Does nothing: the task of a graph that only copies {@code w} to the device for other graphs to use. */
    static void keepKernel(KernelContext ctx, float[] w) {
        // an empty body: the graph's transfer of w is what counts (TornadoVM's own tests force copies this way)
    }

    /** {@link #keepKernel} for an integer array. */
    static void keepIntsKernel(KernelContext ctx, int[] w) {
        // an empty body: the graph's transfer of w is what counts
    }

    /**
     * AdamW step in place, the same formula as the CPU kernel ({@code Optimizers.adamw}); the hyper-parameters
     * come in an array, {@code h = [decay, beta1, 1-beta1, beta2, 1-beta2, eps, -stepSize, 1/sqrt(bc2)]}, so
     * one compiled kernel serves every step (scalars would be baked into the kernel). One item per element.
     */
    static void adamwKernel(KernelContext ctx, float[] p, float[] g, float[] m, float[] v, float[] h, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            adamwAt(p, g[i], m, v, h, i);
        }
    }

    /** The AdamW step of element i with gradient gi (see {@link #adamwKernel}). */
    static void adamwAt(float[] p, float gi, float[] m, float[] v, float[] h, int i) {
        float mi = m[i] * h[1] + gi * h[2];
        float vi = v[i] * h[3] + gi * gi * h[4];
        float denom = TornadoMath.sqrt(vi) * h[7] + h[5];
        p[i] = p[i] * h[0] + mi / denom * h[6];
        m[i] = mi;
        v[i] = vi;
    }

    // The 1-D kernels below take one item per element (or row) and check the bound themselves: their grid is
    // rounded up to whole work groups (a @Parallel loop under a GridScheduler would not check it).

    /** out = a + b elementwise. */
    static void addKernel(KernelContext ctx, float[] a, float[] b, float[] out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            out[i] = a[i] + b[i];
        }
    }

    /** out = a - b elementwise. */
    static void subKernel(KernelContext ctx, float[] a, float[] b, float[] out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            out[i] = a[i] - b[i];
        }
    }

    /** out = a * b elementwise. */
    static void mulKernel(KernelContext ctx, float[] a, float[] b, float[] out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            out[i] = a[i] * b[i];
        }
    }

    /** out = x * sigmoid(x). */
    static void siluKernel(KernelContext ctx, float[] x, float[] out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            out[i] = x[i] / (1f + TornadoMath.exp(-x[i]));
        }
    }

    /** out = e^x. */
    static void expKernel(KernelContext ctx, float[] x, float[] out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            out[i] = TornadoMath.exp(x[i]);
        }
    }

    /** RMSNorm of each row: x * rsqrt(mean(x^2) + eps) * w; one item per row. */
    static void rmsNormRows(KernelContext ctx, float[] x, float[] w, float[] out, int rows, int cols, float eps) {
        int r = ctx.globalIdx;
        if (r < rows) {
            int o = r * cols;
            float ss = 0f;
            for (int j = 0; j < cols; j++) {
                ss += x[o + j] * x[o + j];
            }
            float inv = 1f / TornadoMath.sqrt(ss / cols + eps);
            for (int j = 0; j < cols; j++) {
                out[o + j] = x[o + j] * inv * w[j];
            }
        }
    }

    /** Reduction of each row: {@code op} 0 = sum, 1 = mean, 2 = max, 3 = min; one item per row. */
    static void reduceRowsKernel(KernelContext ctx, float[] x, float[] out, int rows, int cols, int op) {
        int r = ctx.globalIdx;
        if (r < rows) {
            int o = r * cols;
            float acc = x[o];
            for (int j = 1; j < cols; j++) {
                float v = x[o + j];
                if (op == 2) {
                    acc = TornadoMath.max(acc, v);
                } else if (op == 3) {
                    acc = TornadoMath.min(acc, v);
                } else {
                    acc += v;
                }
            }
            out[r] = op == 1 ? acc / cols : acc;
        }
    }

    /**
     * Causal softmax of each row of x [..., lq, lk] (max subtracted): row i of a block sees columns
     * j <= i + lk - lq (the rest are 0); one item per row. With lq = 1 every row sees all its columns: the plain
     * softmax over the last axis.
     */
    static void causalSoftmaxRows(KernelContext ctx, float[] x, float[] out, int rows, int lq, int lk) {
        int r = ctx.globalIdx;
        if (r < rows) {
            int o = r * lk;
            int visible = r % lq + lk - lq + 1;
            float max = x[o];
            for (int j = 1; j < visible; j++) {
                max = TornadoMath.max(max, x[o + j]);
            }
            float sum = 0f;
            for (int j = 0; j < visible; j++) {
                float e = TornadoMath.exp(x[o + j] - max);
                out[o + j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int j = 0; j < lk; j++) {
                out[o + j] = j < visible ? out[o + j] * inv : 0f;
            }
        }
    }

    /** Softmax backward of each row: out = scale * y * (g - sum(g * y)); one item per row. */
    static void softmaxBackwardRows(KernelContext ctx, float[] y, float[] g, float[] out, int rows, int cols,
                                    float scale) {
        int r = ctx.globalIdx;
        if (r < rows) {
            int o = r * cols;
            float dot = 0f;
            for (int j = 0; j < cols; j++) {
                dot += g[o + j] * y[o + j];
            }
            for (int j = 0; j < cols; j++) {
                out[o + j] = scale * y[o + j] * (g[o + j] - dot);
            }
        }
    }

    /** LayerNorm of each row with weight and bias: (x - mean) * rsqrt(var + eps) * w + b; one item per row. */
    static void layerNormRows(KernelContext ctx, float[] x, float[] w, float[] b, float[] out, int rows, int cols,
                              float eps) {
        int r = ctx.globalIdx;
        if (r < rows) {
            int o = r * cols;
            float sum = 0f;
            for (int j = 0; j < cols; j++) {
                sum += x[o + j];
            }
            float mu = sum / cols;
            float ss = 0f;
            for (int j = 0; j < cols; j++) {
                float d = x[o + j] - mu;
                ss += d * d;
            }
            float inv = 1f / TornadoMath.sqrt(ss / cols + eps);
            for (int j = 0; j < cols; j++) {
                out[o + j] = (x[o + j] - mu) * inv * w[j] + b[j];
            }
        }
    }
}
