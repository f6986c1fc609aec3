package dev.lory4j.bench;

import dev.lory4j.tensor.kernels.Gemm;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Our {@code Gemm.sgemm} against OpenBLAS {@code cblas_sgemm} (through {@link FloatPointer}s, row-major) on the
 * same inputs; milliseconds per product, GFLOP/s = 2*m*n*k / time. Each (shape, threads) runs in its own fork:
 * {@code lory4j.threads} is set before any kernel class is touched, and OpenBLAS gets the same count. Shapes as
 * in {@link GemmShape} ({@code MxNxK}, {@code T} = B transposed). For noise-robust ratios prefer
 * {@code BenchMain gemm}, which alternates the two sides sample by sample.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsPrepend = {"--add-modules", "jdk.incubator.vector"},
        jvmArgsAppend = {"-XX:+UseParallelGC", "-Xmx2g", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class GemmBench {
    /** The problem, as parsed by {@link GemmShape#parse}. */
    @Param({"256", "512", "1024", "2048", "4096x688x256", "4096x256x688", "4096x256x256", "4096x4096x256T"})
    public String shape;

    /** Threads for both sides. */
    @Param({"1", "2"})
    public int threads;

    private int m;
    private int n;
    private int k;
    private boolean transB;
    private int lda;
    private int ldb;
    private float[] a;
    private float[] b;
    private float[] c;
    private FloatPointer pa;
    private FloatPointer pb;
    private FloatPointer pc;

    /** Sets the thread counts and fills the inputs, then checks that both sides agree. */
    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("lory4j.threads", Integer.toString(threads));
        OpenBlas.setThreads(threads);
        GemmShape s = GemmShape.parse(shape);
        m = s.m();
        n = s.n();
        k = s.k();
        transB = s.transB();
        lda = s.lda();
        ldb = s.ldb();
        a = GemmCompare.random(m * k, 1);
        b = GemmCompare.random(k * n, 2);
        c = new float[m * n];
        pa = new FloatPointer(a);
        pb = new FloatPointer(b);
        pc = new FloatPointer((long) m * n);
        float[] ref = new float[m * n];
        ours();
        openblas();
        pc.get(ref);
        double err = GemmCompare.relativeError(c, ref);
        if (!(err <= GemmCompare.TOLERANCE)) {
            throw new IllegalStateException("GemmBench " + shape + ": lory4j differs from OpenBLAS, relative error "
                    + err);
        }
    }

    /** Frees the native buffers. */
    @TearDown(Level.Trial)
    public void tearDown() {
        pa.close();
        pb.close();
        pc.close();
    }

    /** lory4j {@code Gemm.sgemm}. */
    @Benchmark
    public float[] ours() {
        Gemm.sgemm(false, transB, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n);
        return c;
    }

    /** OpenBLAS {@code cblas_sgemm}. */
    @Benchmark
    public FloatPointer openblas() {
        OpenBlas.sgemm(false, transB, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n);
        return pc;
    }
}
