package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;

/**
 * The device kernels, written as plain Java loops that TornadoVM compiles (one idea per method). Names end in
 * {@code Kernel}: a kernel named like an OpenCL built-in ({@code exp}, {@code add}) fails to build on PoCL.
 */
final class TornadoKernels {
    private TornadoKernels() {}

    /** Tile edge of {@link #matmulTiledKernel}: work groups of TILE x TILE items, two TILE^2 local buffers. */
    static final int TILE = 16;

    /**
     * c[m,n] = a[m,k] b[k,n] with local-memory tiles: each work group stages a TILE x TILE block of a and of b
     * per step of k, then every item accumulates its dot product from local memory. The grid is padded to
     * multiples of TILE; items and loads outside the matrices use zeros.
     */
    static void matmulTiledKernel(KernelContext ctx, float[] a, float[] b, float[] c, int m, int n, int k) {
        int li = ctx.localIdx;
        int lj = ctx.localIdy;
        int row = TILE * ctx.groupIdx + li;
        int col = TILE * ctx.groupIdy + lj;
        float[] aTile = ctx.allocateFloatLocalArray(TILE * TILE);
        float[] bTile = ctx.allocateFloatLocalArray(TILE * TILE);
        float sum = 0f;
        int tiles = (k + TILE - 1) / TILE;
        for (int t = 0; t < tiles; t++) {
            int ak = TILE * t + lj;
            int bk = TILE * t + li;
            aTile[li * TILE + lj] = row < m && ak < k ? a[row * k + ak] : 0f;
            bTile[li * TILE + lj] = bk < k && col < n ? b[bk * n + col] : 0f;
            ctx.localBarrier();
            for (int p = 0; p < TILE; p++) {
                sum += aTile[li * TILE + p] * bTile[p * TILE + lj];
            }
            ctx.localBarrier();
        }
        if (row < m && col < n) {
            c[row * n + col] = sum;
        }
    }

    /** out = a + b elementwise. */
    static void addKernel(float[] a, float[] b, float[] out) {
        for (@Parallel int i = 0; i < out.length; i++) {
            out[i] = a[i] + b[i];
        }
    }

    /** out = a - b elementwise. */
    static void subKernel(float[] a, float[] b, float[] out) {
        for (@Parallel int i = 0; i < out.length; i++) {
            out[i] = a[i] - b[i];
        }
    }

    /** out = a * b elementwise. */
    static void mulKernel(float[] a, float[] b, float[] out) {
        for (@Parallel int i = 0; i < out.length; i++) {
            out[i] = a[i] * b[i];
        }
    }

    /** out = x * sigmoid(x). */
    static void siluKernel(float[] x, float[] out) {
        for (@Parallel int i = 0; i < out.length; i++) {
            out[i] = x[i] / (1f + TornadoMath.exp(-x[i]));
        }
    }

    /** out = e^x. */
    static void expKernel(float[] x, float[] out) {
        for (@Parallel int i = 0; i < out.length; i++) {
            out[i] = TornadoMath.exp(x[i]);
        }
    }

    /** Softmax of each of {@code rows} rows of {@code cols} (max subtracted); one work item per row. */
    static void softmaxRows(float[] x, float[] out, int rows, int cols) {
        for (@Parallel int r = 0; r < rows; r++) {
            int o = r * cols;
            float max = x[o];
            for (int j = 1; j < cols; j++) {
                max = TornadoMath.max(max, x[o + j]);
            }
            float sum = 0f;
            for (int j = 0; j < cols; j++) {
                float e = TornadoMath.exp(x[o + j] - max);
                out[o + j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int j = 0; j < cols; j++) {
                out[o + j] = out[o + j] * inv;
            }
        }
    }

    /** RMSNorm of each row: x * rsqrt(mean(x^2) + eps) * w; one work item per row. */
    static void rmsNormRows(float[] x, float[] w, float[] out, int rows, int cols, float eps) {
        for (@Parallel int r = 0; r < rows; r++) {
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
}
