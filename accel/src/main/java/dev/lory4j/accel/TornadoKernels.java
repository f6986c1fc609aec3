package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;

/**
 * The device kernels, written as plain Java loops that TornadoVM compiles (one idea per method). Names end in
 * {@code Kernel}: a kernel named like an OpenCL built-in ({@code exp}, {@code add}) fails to build on PoCL.
 */
final class TornadoKernels {
    private TornadoKernels() {}

    /** c[m,n] = a[m,k] b[k,n], all row-major and contiguous; one work item per output element. */
    static void matmulKernel(float[] a, float[] b, float[] c, int m, int n, int k) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = s;
            }
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
