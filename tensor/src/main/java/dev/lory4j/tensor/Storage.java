package dev.lory4j.tensor;

import java.util.function.Consumer;

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
 * ({@link #version()}), and a backend reads it for copying with {@link #peek()}, which does not count. Code
 * that keeps the array of a resident buffer and writes it after a device backend has used the buffer must call
 * {@link #array()} again (or {@link #touch()}) after writing, or the device may compute with the old values.
 *
 * <p><b>Device-newer buffers.</b> A device backend that changed its copy of a buffer on the device (an optimizer
 * step, a gradient computed there) calls {@link #deviceNewer(Consumer)} instead of copying it back: the host array
 * is then filled by the given pull at the next {@link #array()} or {@link #peek()}, so a buffer that the host never
 * reads never crosses. {@link #version()} changes with every host write and every device update, so a second
 * device copy of the buffer (another plan) knows it is stale.
 *
 * <p>Only float32 exists today; a bf16/f16 storage would be another implementation behind the same accessors.
 */
public final class Storage {
    private final float[] array;
    private boolean resident; // set once, before the buffer is shared between threads
    private volatile int hostVersion; // host accesses of a resident buffer and device updates, counted atomically
    private volatile Consumer<float[]> pull; // fills the array from a newer device copy; null when the host is current

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

    /** A new zero-filled buffer of {@code size} floats (an array from this thread's {@link Pool} when one is set). */
    public static Storage allocate(int size) {
        Pool pool = POOL.get();
        float[] reused = pool == null ? null : pool.take(size);
        if (reused != null) {
            java.util.Arrays.fill(reused, 0f);
            return new Storage(reused);
        }
        return new Storage(new float[size]);
    }

    /**
     * A buffer of {@code size} floats whose contents are unspecified (a pooled array keeps what it held): for an op
     * that writes every element, which skips {@link #allocate}'s zero fill.
     */
    public static Storage allocateForOverwrite(int size) {
        Pool pool = POOL.get();
        float[] reused = pool == null ? null : pool.take(size);
        return new Storage(reused != null ? reused : new float[size]);
    }

    private static final ThreadLocal<Pool> POOL = new ThreadLocal<>();

    /**
     * Arrays handed back by their owner for reuse (a replayed step gives back the temporaries it no longer needs), so
     * that {@link #allocate} on this thread takes one of the same size instead of a new array. Set per thread with
     * {@link #use}. When a scope closes the pool keeps, of each size, at most as many arrays as that scope asked for:
     * arrays given back that no later allocation wants (a kernel's output it made with {@code new float[]}, say)
     * go to the garbage collector instead of piling up from step to step.
     */
    public static final class Pool {
        private final java.util.Map<Integer, java.util.ArrayDeque<float[]>> free = new java.util.HashMap<>();
        private final java.util.Map<Integer, Integer> asked = new java.util.HashMap<>();
        private long reused;

        /** Makes {@code array} available to the next allocation of its size; its owner must not touch it again. */
        public void give(float[] array) {
            free.computeIfAbsent(array.length, k -> new java.util.ArrayDeque<>()).push(array);
        }

        float[] take(int size) {
            asked.merge(size, 1, Integer::sum);
            java.util.ArrayDeque<float[]> q = free.get(size);
            float[] a = q == null ? null : q.poll();
            if (a != null) {
                reused++;
            }
            return a;
        }

        /** How many allocations this pool has served. */
        public long reused() {
            return reused;
        }

        /** Arrays the pool holds now (all sizes). */
        public int held() {
            return free.values().stream().mapToInt(java.util.ArrayDeque::size).sum();
        }

        /** Sets this pool for allocations on the current thread until the returned scope closes (then trims it). */
        public AutoCloseable use() {
            Pool before = POOL.get();
            POOL.set(this);
            return () -> {
                POOL.set(before);
                trim();
            };
        }

        /** Keeps, of each size, at most as many arrays as were asked for since the last trim. */
        private void trim() {
            free.entrySet().removeIf(e -> {
                int keep = asked.getOrDefault(e.getKey(), 0);
                while (e.getValue().size() > keep) {
                    e.getValue().pollLast();
                }
                return e.getValue().isEmpty();
            });
            asked.clear();
        }
    }

    /** The backing array (shared with every view of this storage); counts as a host write of a resident buffer. */
    public float[] array() {
        if (pull != null) {
            pullNow();
        }
        if (resident) {
            HOST_VERSION.getAndAdd(this, 1);
        }
        return array;
    }

    /** The backing array without counting a host access: for a backend that only reads it (to copy it out). */
    public float[] peek() {
        if (pull != null) {
            pullNow();
        }
        return array;
    }

    /**
     * The backing array as it is, without pulling a newer device copy and without counting: only for the backend
     * that holds that device copy (to recognise its own buffers), never to read the values.
     */
    public float[] unsynced() {
        return array;
    }

    /**
     * Records that a device holds newer contents than the host array: {@code pull} fills the array (and is run
     * once, at the next host access). Marks the buffer resident and changes its {@link #version()}.
     */
    public void deviceNewer(Consumer<float[]> pull) {
        resident = true;
        synchronized (this) {
            this.pull = pull;
            HOST_VERSION.getAndAdd(this, 1);
        }
    }

    /** Whether the host array waits for a pull from a newer device copy. */
    public boolean isDeviceNewer() {
        return pull != null;
    }

    private synchronized void pullNow() {
        Consumer<float[]> p = pull;
        if (p != null) {
            p.accept(array);
            pull = null;
        }
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

    /**
     * Counts the host accesses of a resident buffer and the device updates ({@link #deviceNewer}): a device copy made
     * at another count may be stale.
     */
    public int version() {
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
