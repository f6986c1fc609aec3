package dev.lory4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
 * The measurement behind {@code dev.lory4j.tensor.Storage}: the same loops over a heap {@code float[]} and over
 * a 64-byte-aligned off-heap {@link MemorySegment}. Vector loops use {@code fromArray}/{@code intoArray} on one
 * side and {@code fromMemorySegment}/{@code intoMemorySegment} on the other; the scalar loops use {@code a[i]}
 * and {@code getAtIndex(JAVA_FLOAT, i)}. Two kernels: {@code a += b} (load, load, store) and a sum (load only).
 * Sizes: one in L1 (4K floats = 16 KiB per array), one in L2/L3 (256K = 1 MiB), one in memory (4M = 16 MiB).
 * Compare the average time per call of matching pairs; lower is better.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsPrepend = {"--add-modules", "jdk.incubator.vector"})
@State(Scope.Thread)
public class StorageBench {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** Floats per array. */
    @Param({"4096", "262144", "4194304"})
    public int size;

    private float[] heapA;
    private float[] heapB;
    private Arena arena;
    private MemorySegment segA;
    private MemorySegment segB;

    /** Fills both kinds of buffer with the same values (the segments 64-byte aligned). */
    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(7);
        heapA = new float[size];
        heapB = new float[size];
        for (int i = 0; i < size; i++) {
            heapA[i] = (float) rnd.nextDouble();
            heapB[i] = (float) rnd.nextDouble() * 1e-3f;
        }
        arena = Arena.ofShared();
        segA = arena.allocate((long) size * Float.BYTES, 64);
        segB = arena.allocate((long) size * Float.BYTES, 64);
        MemorySegment.copy(heapA, 0, segA, F, 0, size);
        MemorySegment.copy(heapB, 0, segB, F, 0, size);
    }

    /** Frees the off-heap buffers. */
    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** a += b, Vector API over float[]. */
    @Benchmark
    public void vectorAddHeap() {
        float[] a = heapA;
        float[] b = heapB;
        int n = size;
        int bound = S.loopBound(n);
        int i = 0;
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, a, i).add(FloatVector.fromArray(S, b, i)).intoArray(a, i);
        }
        for (; i < n; i++) {
            a[i] += b[i];
        }
    }

    /** a += b, Vector API over aligned off-heap segments. */
    @Benchmark
    public void vectorAddSegment() {
        MemorySegment a = segA;
        MemorySegment b = segB;
        long bytes = a.byteSize();
        long step = S.vectorByteSize();
        long bound = bytes - bytes % step;
        long off = 0;
        for (; off < bound; off += step) {
            FloatVector.fromMemorySegment(S, a, off, NATIVE)
                    .add(FloatVector.fromMemorySegment(S, b, off, NATIVE))
                    .intoMemorySegment(a, off, NATIVE);
        }
        for (; off < bytes; off += Float.BYTES) {
            a.set(F, off, a.get(F, off) + b.get(F, off));
        }
    }

    /** a += b, scalar loop over float[] (C2 may auto-vectorise it). */
    @Benchmark
    public void scalarAddHeap() {
        float[] a = heapA;
        float[] b = heapB;
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    /** a += b, scalar loop over off-heap segments. */
    @Benchmark
    public void scalarAddSegment() {
        MemorySegment a = segA;
        MemorySegment b = segB;
        long n = size;
        for (long i = 0; i < n; i++) {
            a.setAtIndex(F, i, a.getAtIndex(F, i) + b.getAtIndex(F, i));
        }
    }

    /** Sum of a, Vector API over float[] (one vector accumulator, reduced once). */
    @Benchmark
    public float vectorSumHeap() {
        float[] a = heapA;
        int n = size;
        int bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i < bound; i += S.length()) {
            acc = acc.add(FloatVector.fromArray(S, a, i));
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[i];
        }
        return sum;
    }

    /** Sum of a, Vector API over an aligned off-heap segment. */
    @Benchmark
    public float vectorSumSegment() {
        MemorySegment a = segA;
        long bytes = a.byteSize();
        long step = S.vectorByteSize();
        long bound = bytes - bytes % step;
        FloatVector acc = FloatVector.zero(S);
        long off = 0;
        for (; off < bound; off += step) {
            acc = acc.add(FloatVector.fromMemorySegment(S, a, off, NATIVE));
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; off < bytes; off += Float.BYTES) {
            sum += a.get(F, off);
        }
        return sum;
    }

    /** Sum of a, scalar loop over float[] (strict order: not vectorised by C2). */
    @Benchmark
    public float scalarSumHeap() {
        float[] a = heapA;
        float sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i];
        }
        return sum;
    }

    /** Sum of a, scalar loop over an off-heap segment. */
    @Benchmark
    public float scalarSumSegment() {
        MemorySegment a = segA;
        long n = size;
        float sum = 0;
        for (long i = 0; i < n; i++) {
            sum += a.getAtIndex(F, i);
        }
        return sum;
    }
}
