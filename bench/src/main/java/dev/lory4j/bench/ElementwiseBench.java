package dev.lory4j.bench;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.kernels.Softmax;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Memory-bound kernels against {@code System.arraycopy}: add of two arrays, exp, silu and softmax over rows of
 * {@value ElementwiseCompare#SOFTMAX_COLS}. The primary score is calls per second; the secondary score
 * {@code bytes} is logical bytes moved per second (inputs read once + output written once: add 12 bytes per
 * element, the others and the copy 8), so divide it by 1e9 for GB/s.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsPrepend = {"--add-modules", "jdk.incubator.vector"},
        jvmArgsAppend = {"-XX:+UseParallelGC", "-Xmx2g"})
@State(Scope.Benchmark)
public class ElementwiseBench {
    /** Elements per array: 1M (4 MiB, cache-sized) and 16M (64 MiB, memory). */
    @Param({"1048576", "16777216"})
    public int size;

    /** Threads for our kernels (the copy is single-threaded). */
    @Param({"1", "2"})
    public int threads;

    private float[] a;
    private float[] b;
    private float[] out;

    /** Bytes moved, reported by JMH as a rate next to the primary score. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Traffic {
        /** Logical bytes read and written. */
        public long bytes;

        /** Zeroes the counter for each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /** Sets our thread count before any kernel class is touched, and fills the inputs. */
    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("lory4j.threads", Integer.toString(threads));
        a = GemmCompare.random(size, 11);
        b = GemmCompare.random(size, 12);
        out = new float[size];
    }

    /** out = a + b. */
    @Benchmark
    public float[] add(Traffic t) {
        Elementwise.binary(BinaryOp.ADD, a, 0, 1, b, 0, 1, out, 0, size);
        t.bytes += 12L * size;
        return out;
    }

    /** out = exp(a). */
    @Benchmark
    public float[] exp(Traffic t) {
        Elementwise.unary(UnaryOp.EXP, a, 0, 1, out, 0, size);
        t.bytes += 8L * size;
        return out;
    }

    /** out = silu(a). */
    @Benchmark
    public float[] silu(Traffic t) {
        Elementwise.unary(UnaryOp.SILU, a, 0, 1, out, 0, size);
        t.bytes += 8L * size;
        return out;
    }

    /** out = softmax of each row of a. */
    @Benchmark
    public float[] softmax(Traffic t) {
        Softmax.softmaxRows(a, 0, out, 0, size / ElementwiseCompare.SOFTMAX_COLS, ElementwiseCompare.SOFTMAX_COLS);
        t.bytes += 8L * size;
        return out;
    }

    /** The reference: copy a into out. */
    @Benchmark
    public float[] arraycopy(Traffic t) {
        System.arraycopy(a, 0, out, 0, size);
        t.bytes += 8L * size;
        return out;
    }
}
