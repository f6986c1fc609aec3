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
 * <p><b>Resident buffers.</b> A buffer {@linkplain #markResident() marked resident} (model parameters are) is
 * long-lived, so a device backend may keep a copy on its device and reuse it across calls. To know when that copy
 * is stale, a resident buffer counts host accesses: every {@link #array()} call counts as a possible write
 * ({@link #hostVersion()}), and a backend reads it for copying with {@link #peek()}, which does not count. Code
 * that keeps the array of a resident buffer and writes it after a device backend has used the buffer must call
 * {@link #array()} again (or {@link #touch()}) after writing, or the device may compute with the old values.
 *
 * <p>Only float32 exists today; a bf16/f16 storage would be another implementation behind the same accessors.
 */
public final class Storage {
    private final float[] array;
    private boolean resident; // set once, before the buffer is shared between threads
    private volatile int hostVersion; // host accesses of a resident buffer, counted atomically

    private static final java.lang.invoke.VarHandle HOST_VERSION;

    static {
        try {
            HOST_VERSION = java.lang.invoke.MethodHandles.lookup().findVarHandle(Storage.class, "hostVersion",
                    int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Wraps an existing array (no copy). */
    public Storage(float[] array) {
        this.array = array;
    }

    /** A new zero-filled buffer of {@code size} floats. */
    public static Storage allocate(int size) {
        return new Storage(new float[size]);
    }

    /** The backing array (shared with every view of this storage); counts as a host write of a resident buffer. */
    public float[] array() {
        if (resident) {
            HOST_VERSION.getAndAdd(this, 1);
        }
        return array;
    }

    /** The backing array without counting a host access: for a backend that only reads it (to copy it out). */
    public float[] peek() {
        return array;
    }

    /** Marks this buffer long-lived (a model parameter), so a device backend may keep a copy of it; returns this. */
    public Storage markResident() {
        resident = true;
        return this;
    }

    /** Whether {@link #markResident()} was called. */
    public boolean isResident() {
        return resident;
    }

    /** Counts the host accesses of a resident buffer: a device copy made at another count may be stale. */
    public int hostVersion() {
        return hostVersion;
    }

    /** Records a host write to a resident buffer made through an array taken earlier. */
    public void touch() {
        HOST_VERSION.getAndAdd(this, 1);
    }

    /** Capacity in floats. */
    public int size() {
        return array.length;
    }
}
