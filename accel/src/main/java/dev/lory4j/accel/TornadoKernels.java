package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.annotations.Parallel;

/** The device kernels, written as plain Java loops that TornadoVM compiles (one idea per method). */
final class TornadoKernels {
    private TornadoKernels() {}

    /** c[m,n] = a[m,k] b[k,n], all row-major and contiguous; one work item per output element. */
    static void matmul(float[] a, float[] b, float[] c, int m, int n, int k) {
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
}
