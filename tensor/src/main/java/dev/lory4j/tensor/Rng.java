package dev.lory4j.tensor;

import dev.lory4j.tensor.kernels.Parallel;

/**
 * A seeded, counter-based random number generator for tensors.
 *
 * <p>Element {@code i} of a draw made at stream position {@code p} depends only on {@code (seed, p + i)}: it is
 * the SplitMix64 mix of that counter. So a tensor is filled in parallel chunks and still holds the same
 * numbers for the same seed on any thread count, and the state is two longs ({@link #seed()},
 * {@link #position()}) that a checkpoint stores to resume the exact stream.
 */
public final class Rng {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final int PARALLEL_CHUNK = 1 << 15;

    private final long seed;
    private long position;

    /** A generator at the start of the stream for {@code seed}. */
    public Rng(long seed) {
        this(seed, 0);
    }

    /** A generator resumed at a saved {@code position} of the stream for {@code seed}. */
    public Rng(long seed, long position) {
        if (position < 0) {
            throw new IllegalArgumentException("Rng: negative position " + position);
        }
        this.seed = seed;
        this.position = position;
    }

    /** The seed. */
    public long seed() {
        return seed;
    }

    /** How many values have been drawn so far (the resumable state, with the seed). */
    public long position() {
        return position;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private long key(long counter) {
        return mix(seed + GOLDEN * (counter + 1));
    }

    private static float unit(long bits) {
        return (bits >>> 40) * 0x1.0p-24f; // [0, 1)
    }

    private static double unitOpen(long bits) {
        return ((bits >>> 11) + 0.5) * 0x1.0p-53; // (0, 1)
    }

    /** The j-th auxiliary uniform of an element's key (independent sub-stream per element). */
    private static long sub(long key, int j) {
        return mix(key + GOLDEN * j);
    }

    private static double gaussian(long key, int attempt) {
        double u1 = unitOpen(sub(key, 2 * attempt + 1));
        double u2 = unitOpen(sub(key, 2 * attempt + 2));
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private interface ElementFn {
        float value(long key);
    }

    private Tensor fill(String op, int[] shape, ElementFn fn) {
        int[] s = Shapes.checkShape(op, shape);
        int n = Shapes.numel(s);
        float[] d = new float[n];
        long base = position;
        position += n;
        int chunks = (n + PARALLEL_CHUNK - 1) / PARALLEL_CHUNK;
        Parallel.parallelFor(chunks, c -> {
            int from = c * PARALLEL_CHUNK;
            int to = Math.min(n, from + PARALLEL_CHUNK);
            for (int i = from; i < to; i++) {
                d[i] = fn.value(key(base + i));
            }
        });
        return Tensor.contiguousOver(d, s);
    }

    /** Uniform values in [lo, hi). */
    public Tensor uniform(float lo, float hi, int... shape) {
        if (!(lo <= hi) || !Float.isFinite(hi - lo)) {
            throw new IllegalArgumentException("uniform: bounds [" + lo + ", " + hi + ") are not a finite interval");
        }
        return fill("uniform", shape, k -> lo + (hi - lo) * unit(k));
    }

    /** Normal values with the given mean and standard deviation. */
    public Tensor normal(float mean, float std, int... shape) {
        if (!(std >= 0) || !Float.isFinite(std) || !Float.isFinite(mean)) {
            throw new IllegalArgumentException("normal: mean " + mean + " and std " + std
                    + " must be finite with std >= 0");
        }
        return fill("normal", shape, k -> (float) (mean + std * gaussian(k, 0)));
    }

    /** Normal values redrawn until they fall in [lo, hi] (as torch.nn.init.trunc_normal_). */
    public Tensor truncatedNormal(float mean, float std, float lo, float hi, int... shape) {
        if (!(std > 0) || !(lo < hi) || !(lo <= mean + 6 * std) || !(hi >= mean - 6 * std)) {
            throw new IllegalArgumentException("truncatedNormal: mean " + mean + ", std " + std + ", bounds [" + lo
                    + ", " + hi + "]: need std > 0, lo < hi and the bounds within 6 std of the mean");
        }
        return fill("truncatedNormal", shape, k -> {
            for (int attempt = 0; ; attempt++) {
                double v = mean + std * gaussian(k, attempt);
                if (v >= lo && v <= hi) {
                    return (float) v;
                }
            }
        });
    }

    /** Xavier/Glorot uniform: bound = gain * sqrt(6 / (fanIn + fanOut)). */
    public Tensor xavierUniform(int fanIn, int fanOut, float gain, int... shape) {
        checkFan("xavierUniform", fanIn + fanOut);
        float bound = (float) (gain * Math.sqrt(6.0 / (fanIn + fanOut)));
        return uniform(-bound, bound, shape);
    }

    /** Kaiming/He uniform: bound = gain * sqrt(3 / fanIn); gain sqrt(2) for ReLU, sqrt(1/3) is PyTorch's Linear default. */
    public Tensor kaimingUniform(int fanIn, float gain, int... shape) {
        checkFan("kaimingUniform", fanIn);
        float bound = (float) (gain * Math.sqrt(3.0 / fanIn));
        return uniform(-bound, bound, shape);
    }

    /** Kaiming/He normal: std = gain / sqrt(fanIn). */
    public Tensor kaimingNormal(int fanIn, float gain, int... shape) {
        checkFan("kaimingNormal", fanIn);
        return normal(0f, (float) (gain / Math.sqrt(fanIn)), shape);
    }

    private static void checkFan(String op, int fan) {
        if (fan <= 0) {
            throw new IllegalArgumentException(op + ": fan " + fan + " must be positive");
        }
    }

    /** A uniform 64-bit value. */
    public long nextLong() {
        return key(position++);
    }

    /** A uniform float in [0, 1). */
    public float nextFloat() {
        return unit(nextLong());
    }

    /** A uniform int in [0, bound). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("nextInt: bound " + bound + " must be positive");
        }
        long r = nextLong() >>> 32; // 32 uniform bits; (r * bound) >>> 32 maps them onto [0, bound)
        return (int) ((r * bound) >>> 32);
    }

    /** Shuffles an array in place (Fisher-Yates). */
    public void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
