package dev.lory4j.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Gemm against a triple-loop reference computed in double.
 *
 * <p><b>Tolerance.</b> Each element is a float sum of k products, rounded after every step. The rounding
 * errors (each at most eps = 2^-23 relative to the running sum) behave like a random walk, so the error grows
 * like sqrt(k) * eps * |a_i| |b_j| (row i of op(A) and column j of op(B) as vectors: by Cauchy-Schwarz the
 * running sums are bounded by |a_i| |b_j|). The worst case is k * eps * |a_i| |b_j|. We accept
 * {@code 8 * sqrt(k) * eps * |alpha| |a_i| |b_j| + 2 eps (|beta c| + |result|)}: far above the typical error, and
 * still far below the size of one product term (~0.25 for values in [-1, 1]), so a missed, doubled or
 * misplaced term fails.
 */
class GemmTest {

    private static final double EPS = Math.ulp(1f);
    private static final int[] SIZES = {0, 1, 2, 3, 7, 16, 17, 33, 65, 127, 129, 257, 513};

    /**
     * The packed path's micro-kernel the helpers use: the machine's own unless a parameterized test sets another.
     * Every kernel runs on any machine; one wider than the hardware is emulated by the Vector API (slowly, so the
     * tests give it fewer random cases).
     */
    private static MicroKernel kernel = Gemm.KERNEL;

    /** Runs {@code test} with the helpers on micro-kernel {@code k}. */
    private static void with(MicroKernel k, Runnable test) {
        MicroKernel saved = kernel;
        kernel = k;
        try {
            test.run();
        } finally {
            kernel = saved;
        }
    }

    /** Whether {@code k} runs on native vectors here (not emulated). */
    private static boolean isNative(MicroKernel k) {
        return k.species.vectorBitSize() <= jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    private static void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
                              float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        Gemm.sgemmBatched(kernel, 1, ta, tb, m, n, k, alpha, a, aOff, 0, lda, b, bOff, 0, ldb, beta, c, cOff, 0, ldc);
    }

    // -------------------------------------------------------------------------------------------------
    // Reference and helpers

    /** One product's arguments plus its inputs; {@link #check} runs Gemm and compares with the reference. */
    private record Case(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta,
                        int aOff, int lda, int bOff, int ldb, int cOff, int ldc) {

        static Case randomArgs(Random r, int m, int n, int k) {
            boolean ta = r.nextBoolean();
            boolean tb = r.nextBoolean();
            float alpha = new float[] {1f, 1f, -0.75f, 2f}[r.nextInt(4)];
            float beta = new float[] {0f, 0f, 1f, 0.5f}[r.nextInt(4)];
            int pad = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(9);
            return new Case(ta, tb, m, n, k, alpha, beta, r.nextInt(7), (ta ? m : k) + pad, r.nextInt(7),
                    (tb ? k : n) + r.nextInt(5), r.nextInt(7), n + r.nextInt(4));
        }

        int aLength() {
            return aOff + (transA ? k : m) * lda;
        }

        int bLength() {
            return bOff + (transB ? n : k) * ldb;
        }

        int cLength() {
            return cOff + m * ldc;
        }

        double a(float[] a, int i, int p) {
            return a[aOff + (transA ? p * lda + i : i * lda + p)];
        }

        double b(float[] b, int p, int j) {
            return b[bOff + (transB ? j * ldb + p : p * ldb + j)];
        }

        void run(float[] a, float[] b, float[] c) {
            sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        }

        /** Runs the case on fresh random inputs and compares every element (and the untouched padding). */
        void check(Random r) {
            float[] a = random(r, aLength());
            float[] b = random(r, bLength());
            float[] c0 = random(r, cLength());
            if (beta == 0f) {
                Arrays.fill(c0, cOff, c0.length, Float.NaN); // must be ignored, padding aside
                for (int i = 0; i < m; i++) {
                    Arrays.fill(c0, cOff + i * ldc + n, Math.min(c0.length, cOff + (i + 1) * ldc), 7f);
                }
            }
            float[] c = c0.clone();
            run(a, b, c);
            compareWindow(a, b, c0, c);
            // Everything outside the m x n window (offset, padding past n in each row) is untouched.
            for (int idx = 0; idx < c.length; idx++) {
                int rel = idx - cOff;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside && Float.floatToRawIntBits(c[idx]) != Float.floatToRawIntBits(c0[idx])) {
                    throw new AssertionError(this + ": wrote outside C at index " + idx);
                }
            }
        }

        /** Compares the m x n window of C (before: c0, after: c) with the reference. */
        void compareWindow(float[] a, float[] b, float[] c0, float[] c) {
            double[] rowNorm = new double[m];
            double[] colNorm = new double[n];
            for (int i = 0; i < m; i++) {
                for (int p = 0; p < k; p++) {
                    rowNorm[i] += a(a, i, p) * a(a, i, p);
                }
            }
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < k; p++) {
                    colNorm[j] += b(b, p, j) * b(b, p, j);
                }
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int p = 0; p < k; p++) {
                        dot += a(a, i, p) * b(b, p, j);
                    }
                    int ci = cOff + i * ldc + j;
                    double old = beta == 0f ? 0 : beta * (double) c0[ci];
                    double expected = alpha * dot + old;
                    double tol = 8 * Math.sqrt(k) * EPS * Math.abs(alpha) * Math.sqrt(rowNorm[i] * colNorm[j])
                            + 2 * EPS * (Math.abs(old) + Math.abs(expected)) + 1e-30;
                    if (!(Math.abs(c[ci] - expected) <= tol)) {
                        throw new AssertionError(this + ": C[" + i + "][" + j + "] = " + c[ci] + ", expected "
                                + expected + " +- " + tol);
                    }
                }
            }
        }
    }

    private static float[] random(Random r, int length) {
        float[] x = new float[length];
        for (int i = 0; i < length; i++) {
            x[i] = 2 * r.nextFloat() - 1;
        }
        return x;
    }

    private static int size(Random r) {
        return SIZES[r.nextInt(SIZES.length)];
    }

    // -------------------------------------------------------------------------------------------------
    // Correctness

    @ParameterizedTest
    @EnumSource(MicroKernel.class)
    void randomShapesAllTransposesMatchReference(MicroKernel k) {
        with(k, () -> randomShapes(isNative(k) ? 400 : 60));
    }

    private static void randomShapes(int cases) {
        Random r = new Random(20261123);
        int done = 0;
        while (done < cases) {
            int m = size(r);
            int n = size(r);
            int k = size(r);
            if ((long) m * n * k > 3_000_000) {
                continue;
            }
            Case.randomArgs(r, m, n, k).check(r);
            done++;
        }
    }

    @ParameterizedTest
    @EnumSource(MicroKernel.class)
    void everyTransposeCombinationOnOddShapes(MicroKernel k) {
        with(k, GemmTest::oddShapes);
    }

    private static void oddShapes() {
        Random r = new Random(7);
        int[][] shapes = {{17, 33, 65}, {65, 17, 129}, {5, 129, 33}, {127, 7, 1}, {1, 257, 17}, {33, 1, 127}};
        for (int[] s : shapes) {
            for (int flags = 0; flags < 4; flags++) {
                boolean ta = (flags & 1) != 0;
                boolean tb = (flags & 2) != 0;
                new Case(ta, tb, s[0], s[1], s[2], 1.5f, 0.5f, 3, (ta ? s[0] : s[2]) + 2, 1,
                        (tb ? s[2] : s[1]) + 3, 2, s[1] + 1).check(r);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(MicroKernel.class)
    void largeShapesCoverSeveralKAndColumnBlocksAndSkinnyPath(MicroKernel k) {
        with(k, GemmTest::largeShapes);
    }

    private static void largeShapes() {
        Random r = new Random(11);
        // k > 512: several K blocks; k = 2100 also narrows the column block below n = 500.
        int[][] shapes = {{40, 500, 2100}, {129, 70, 1100}, {16, 300, 1500}, {3, 1000, 700}, {257, 257, 513},
            {1, 513, 2000}};
        for (int[] s : shapes) {
            for (int flags = 0; flags < 4; flags++) {
                boolean ta = (flags & 1) != 0;
                boolean tb = (flags & 2) != 0;
                new Case(ta, tb, s[0], s[1], s[2], 1f, flags == 3 ? 1f : 0f, 0, ta ? s[0] : s[2], 0,
                        tb ? s[2] : s[1], 0, s[1]).check(r);
            }
        }
    }

    @Test
    void betaZeroOverwritesNaNAndAlphaZeroOnlyScales() {
        Random r = new Random(3);
        float[] a = random(r, 20 * 30);
        float[] b = random(r, 30 * 40);
        float[] c = new float[20 * 40];
        Arrays.fill(c, Float.NaN);
        Gemm.sgemm(false, false, 20, 40, 30, 1f, a, 0, 30, b, 0, 40, 0f, c, 0, 40);
        for (float v : c) {
            assertThat(v).isFinite();
        }
        float[] before = c.clone();
        a[0] = Float.NaN; // alpha == 0: A and B are not read
        Gemm.sgemm(false, false, 20, 40, 30, 0f, a, 0, 30, b, 0, 40, 2f, c, 0, 40);
        for (int i = 0; i < c.length; i++) {
            assertThat(c[i]).isEqualTo(2f * before[i]);
        }
    }

    @Test
    void zeroSizes() {
        float[] c = {1f, 2f, 3f, 4f};
        // k == 0: C = beta * C.
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 0, new float[0], 0, 2, 3f, c, 0, 2);
        assertThat(c).containsExactly(3f, 6f, 9f, 12f);
        Gemm.sgemm(true, true, 2, 2, 0, 1f, new float[0], 0, 2, new float[0], 0, 0, 0f, c, 0, 2);
        assertThat(c).containsExactly(0f, 0f, 0f, 0f);
        // m == 0 or n == 0: nothing happens, empty arrays are fine.
        Gemm.sgemm(false, false, 0, 5, 3, 1f, new float[0], 0, 3, new float[15], 0, 5, 0f, new float[0], 0, 5);
        Gemm.sgemm(false, false, 4, 0, 3, 1f, new float[12], 0, 3, new float[0], 0, 0, 0f, new float[0], 0, 0);
        Gemm.sgemmBatched(0, false, false, 4, 4, 4, 1f, null, 0, 0, 4, null, 0, 0, 4, 0f, null, 0, 0, 4);
    }

    @Test
    void sizeOneEverywhere() {
        float[] c = {Float.NaN};
        Gemm.sgemm(true, true, 1, 1, 1, 2f, new float[] {3f}, 0, 1, new float[] {5f}, 0, 1, 0f, c, 0, 1);
        assertThat(c[0]).isEqualTo(30f);
    }

    @ParameterizedTest
    @EnumSource(MicroKernel.class)
    void batchedWithStridesMatchesOneByOne(MicroKernel k) {
        with(k, GemmTest::batchedShapes);
    }

    private static void batchedShapes() {
        Random r = new Random(5);
        int[][] shapes = {{33, 17, 65}, {64, 64, 32}, {5, 40, 9}, {70, 130, 600}};
        for (int[] s : shapes) {
            for (int batch : new int[] {1, 2, 3, 8}) {
                for (int flags = 0; flags < 4; flags++) {
                    checkBatched(r, batch, (flags & 1) != 0, (flags & 2) != 0, s[0], s[1], s[2], flags == 1);
                }
            }
        }
    }

    /** Batched call vs sgemm per matrix (bit-identical) and vs the reference; sharedB uses strideB = 0. */
    private static void checkBatched(Random r, int batch, boolean ta, boolean tb, int m, int n, int k,
                                     boolean sharedB) {
        int lda = (ta ? m : k) + 1;
        int ldb = (tb ? k : n) + 2;
        int ldc = n + 3;
        int strideA = (ta ? k : m) * lda + 5;
        int strideB = sharedB ? 0 : (tb ? n : k) * ldb + 1;
        int strideC = m * ldc + 2;
        float[] a = random(r, 4 + batch * strideA);
        float[] b = random(r, 1 + (batch - 1) * strideB + (tb ? n : k) * ldb);
        float[] c = random(r, 3 + batch * strideC);
        float[] single = c.clone();
        float[] c0 = c.clone();
        Gemm.sgemmBatched(kernel, batch, ta, tb, m, n, k, 0.5f, a, 4, strideA, lda, b, 1, strideB, ldb, 1f, c, 3,
                strideC, ldc);
        for (int t = 0; t < batch; t++) {
            sgemm(ta, tb, m, n, k, 0.5f, a, 4 + t * strideA, lda, b, 1 + t * strideB, ldb, 1f, single,
                    3 + t * strideC, ldc);
            new Case(ta, tb, m, n, k, 0.5f, 1f, 4 + t * strideA, lda, 1 + t * strideB, ldb, 3 + t * strideC, ldc)
                    .compareWindow(a, b, c0, c);
        }
        assertThat(c).isEqualTo(single);
    }

    // -------------------------------------------------------------------------------------------------
    // Determinism

    @ParameterizedTest
    @EnumSource(MicroKernel.class)
    void resultsAreBitIdenticalForOneAndTwoThreads(MicroKernel k) {
        with(k, GemmTest::sameBitsForOneAndTwoThreads);
    }

    private static void sameBitsForOneAndTwoThreads() {
        Random r = new Random(99);
        int[][] shapes = {{300, 700, 1100}, {513, 129, 257}, {16, 1000, 900}, {5, 2000, 300}, {64, 64, 64},
            {700, 40, 2100}};
        for (int[] s : shapes) {
            for (int flags = 0; flags < 4; flags++) {
                boolean ta = (flags & 1) != 0;
                boolean tb = (flags & 2) != 0;
                int m = s[0];
                int n = s[1];
                int k = s[2];
                float[] a = random(r, m * k);
                float[] b = random(r, k * n);
                float[] c1 = random(r, m * n);
                float[] c2 = c1.clone();
                Runnable one = () -> sgemm(ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0.5f, c1, 0, n);
                Runnable two = () -> sgemm(ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0.5f, c2, 0, n);
                Parallel.withThreads(1, one);
                Parallel.withThreads(2, two);
                assertThat(c2).as("%dx%dx%d transA=%b transB=%b", m, n, k, ta, tb).isEqualTo(c1);
            }
        }
        // Batched: over the batch (8 % 2 == 0) with two threads, one by one with one thread.
        float[] a = random(r, 8 * 64 * 48);
        float[] b = random(r, 8 * 48 * 80);
        float[] c1 = new float[8 * 64 * 80];
        float[] c2 = new float[8 * 64 * 80];
        Parallel.withThreads(1, () -> Gemm.sgemmBatched(kernel, 8, false, true, 64, 80, 48, 1f, a, 0, 64 * 48, 48,
                b, 0, 48 * 80, 48, 0f, c1, 0, 64 * 80, 80));
        Parallel.withThreads(2, () -> Gemm.sgemmBatched(kernel, 8, false, true, 64, 80, 48, 1f, a, 0, 64 * 48, 48,
                b, 0, 48 * 80, 48, 0f, c2, 0, 64 * 80, 80));
        assertThat(c2).isEqualTo(c1);
    }

    @Test
    void concurrentCallersGetTheSameResults() throws Exception {
        Random r = new Random(1);
        int m = 200;
        int n = 150;
        int k = 300;
        float[] a = random(r, m * k);
        float[] b = random(r, k * n);
        float[] expected = new float[m * n];
        Gemm.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, expected, 0, n);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                results.add(pool.submit(() -> {
                    float[] c = new float[m * n];
                    for (int rep = 0; rep < 5; rep++) {
                        Gemm.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
                    }
                    return c;
                }));
            }
            for (Future<float[]> f : results) {
                assertThat(f.get()).isEqualTo(expected);
            }
        } finally {
            pool.shutdown();
        }
    }

    // -------------------------------------------------------------------------------------------------
    // Argument checks

    @Test
    void badArgumentsNameSgemmAndTheValues() {
        float[] x = new float[100];
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 2, 3, 4, 1f, x, 0, 3, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sgemm: lda 3 < k 4 for A (not transposed, 2x4)");
        assertThatThrownBy(() -> Gemm.sgemm(true, false, 2, 3, 4, 1f, x, 0, 1, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sgemm: lda 1 < m 2 for A (transposed, 4x2)");
        assertThatThrownBy(() -> Gemm.sgemm(false, true, 2, 3, 4, 1f, x, 0, 4, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sgemm: ldb 3 < k 4 for B (transposed, 3x4)");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 2, 3, 4, 1f, x, 0, 4, x, 0, 3, 0f, x, 0, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sgemm: ldc 2 < n 3 for C (2x3)");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, -1, 3, 4, 1f, x, 0, 4, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm").hasMessageContaining("m -1");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 30, 3, 4, 1f, x, 0, 4, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sgemm: array A too short: length 100 < 120 needed (not transposed, 30x4, lda 4,"
                        + " offset 0)");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 2, 3, 4, 1f, x, 0, 4, x, 95, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm: array B too short");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 2, 3, 4, 1f, x, -1, 4, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm: negative offset -1");
        assertThatThrownBy(() -> Gemm.sgemm(false, false, 2, 3, 4, 1f, null, 0, 4, x, 0, 3, 0f, x, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm: array A is null");
        assertThatThrownBy(() -> Gemm.sgemmBatched(3, false, false, 2, 3, 4, 1f, x, 0, 8, 4, x, 0, 0, 3, 0f, x, 0,
                2, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm: strideC 2 < 6");
        assertThatThrownBy(() -> Gemm.sgemmBatched(20, false, false, 2, 3, 4, 1f, x, 0, 8, 4, x, 0, 0, 3, 0f, x, 0,
                6, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sgemm: array A too short").hasMessageContaining("20 matrices stride 8");
    }

    // -------------------------------------------------------------------------------------------------
    // The pool

    @Nested
    class ParallelPool {

        @Test
        void runsEveryTaskExactlyOnce() {
            AtomicIntegerArray hits = new AtomicIntegerArray(1000);
            Parallel.withThreads(2, () -> Parallel.parallelFor(1000, hits::incrementAndGet));
            for (int i = 0; i < 1000; i++) {
                assertThat(hits.get(i)).isEqualTo(1);
            }
            Parallel.parallelFor(0, t -> {
                throw new AssertionError("no task expected");
            });
        }

        @Test
        void rethrowsATaskFailureInTheCaller() {
            assertThatThrownBy(() -> Parallel.withThreads(2, () -> Parallel.parallelFor(50, t -> {
                if (t == 17) {
                    throw new IllegalStateException("task 17 failed");
                }
            }))).isInstanceOf(IllegalStateException.class).hasMessage("task 17 failed");
            // The pool still works afterwards.
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            Parallel.withThreads(2, () -> Parallel.parallelFor(10, hits::incrementAndGet));
            assertThat(hits.toString()).isEqualTo("[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
        }

        @Test
        void nestedCallsRunSequentially() {
            AtomicIntegerArray hits = new AtomicIntegerArray(100);
            Parallel.withThreads(2, () -> Parallel.parallelFor(10,
                    outer -> Parallel.parallelFor(10, inner -> hits.incrementAndGet(outer * 10 + inner))));
            for (int i = 0; i < 100; i++) {
                assertThat(hits.get(i)).isEqualTo(1);
            }
        }

        @Test
        void threadsIsPositive() {
            assertThat(Parallel.threads()).isPositive();
            Parallel.withThreads(3, () -> assertThat(Parallel.threads()).isEqualTo(3));
        }
    }
}
