package dev.lory4j.tensor;

/**
 * The flat buffer behind one or more tensors (views share it).
 *
 * <p><b>Why heap {@code float[]} and not a 64-byte-aligned {@code MemorySegment}.</b> Measured with JMH
 * ({@code bench} module, {@code StorageBench}: the same Vector-API add and sum over both kinds of buffer, and
 * see {@code vector-api-notes.md}): with {@code float[]} and {@code int} loop counters C2 removes every bounds
 * check, while scalar {@code MemorySegment} accesses kept theirs inside the loop, and the packed GEMM panels
 * gained nothing from 64-byte alignment. Arrays are also GC-managed (no arena lifetime to get wrong). For the
 * GPU path this costs no extra host copy: TornadoVM accepts a Java {@code float[]} directly as a kernel
 * argument and transfers it straight from the heap, so an accelerator backend moves {@link #array()} as is.
 *
 * <p>Only float32 exists today; a bf16/f16 storage would be another implementation behind the same accessors.
 */
public final class Storage {
    private final float[] array;

    /** Wraps an existing array (no copy). */
    public Storage(float[] array) {
        this.array = array;
    }

    /** A new zero-filled buffer of {@code size} floats. */
    public static Storage allocate(int size) {
        return new Storage(new float[size]);
    }

    /** The backing array (shared with every view of this storage). */
    public float[] array() {
        return array;
    }

    /** Capacity in floats. */
    public int size() {
        return array.length;
    }
}
