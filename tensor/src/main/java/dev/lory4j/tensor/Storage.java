package dev.lory4j.tensor;

/**
 * The flat buffer behind one or more tensors (views share it).
 *
 * <p><b>Why heap {@code float[]} and not a 64-byte-aligned {@code MemorySegment}.</b> Measured with JMH
 * ({@code ./lory4j bench jmh StorageBench}: the same loops over both kinds of buffer, 2 forks): the Vector-API
 * loops showed no clear winner (add over 4M floats 2186 vs 2238 us; sum 978 vs 1292 us; in-cache 4K add 0.57
 * vs 0.29 us, within the noise), but plain scalar loops, which every non-kernel helper is, ran 4.5x faster on
 * arrays (256K add: 29 vs 132 us), because C2 removes the bounds checks and auto-vectorises array loops and
 * not segment loops. Arrays are also GC-managed (no arena lifetime to get wrong). For the GPU path this costs
 * no extra host copy: TornadoVM accepts a Java {@code float[]} directly as a kernel argument and transfers it
 * straight from the heap, so an accelerator backend moves {@link #array()} as it is.
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
