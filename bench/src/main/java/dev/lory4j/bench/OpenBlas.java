package dev.lory4j.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The OpenBLAS peer (org.bytedeco:openblas), called in the same JVM. Timed calls go through
 * {@link FloatPointer}s filled once, because the {@code float[]} overload copies every array through JNI on each
 * call (3-30 % slower) and would understate the peer.
 */
public final class OpenBlas {
    private OpenBlas() {}

    private static volatile boolean loaded;

    /** Loads the native library (extracted into ~/.javacpp/cache on first use); cheap after the first call. */
    public static synchronized void load() {
        if (!loaded) {
            Loader.load(openblas_nolapack.class);
            loaded = true;
        }
    }

    /** Sets the number of OpenBLAS worker threads for subsequent calls. */
    public static void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("OpenBlas.setThreads: threads must be >= 1, got " + threads);
        }
        load();
        openblas_nolapack.blas_set_num_threads(threads);
    }

    /** The number of OpenBLAS worker threads in effect. */
    public static int threads() {
        load();
        return openblas_nolapack.blas_get_num_threads();
    }

    /**
     * Row-major {@code c = alpha * op(a) * op(b) + beta * c} on native buffers; {@code op(x)} is the transpose
     * when the flag is set, with the same conventions as {@code Gemm.sgemm} (lda/ldb/ldc are row strides of the
     * stored matrices).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             FloatPointer a, int lda, FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
                transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /**
     * Convenience for tests and checks (not for timing): the same product on heap arrays starting at offset 0,
     * copied to native memory and back into {@code c}.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc) {
        load();
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b);
             FloatPointer pc = new FloatPointer(c)) {
            sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            pc.get(c);
        }
    }

    /** One-line description of the peer: library version and thread count. */
    public static String describe() {
        load();
        return openblas_nolapack.OPENBLAS_VERSION.strip() + " (org.bytedeco:openblas), threads="
                + openblas_nolapack.blas_get_num_threads();
    }
}
