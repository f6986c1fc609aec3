package dev.lory4j.tensor.kernels;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.UnaryOp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise kernels over runs of floats: one tensor ({@link #unary}) or two ({@link #binary}), where each
 * input run is either contiguous (increment 1), a broadcast scalar (increment 0), or strided (scalar loop).
 *
 * <p>The ops a training step runs most have a loop each (small methods that C2 compiles with the vector op
 * intrinsified); the rest share a loop that picks the operator with a {@code switch} per vector. Long runs are
 * split over {@link Parallel}.
 */
public final class Elementwise {
    private Elementwise() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Below this many elements a run is done by the calling thread alone. */
    public static final int PARALLEL_THRESHOLD = 1 << 16;
    private static final int CHUNK = 1 << 14;

    /** out[i] = op(a[aOff + i*aInc], b[bOff + i*bInc]) for i in [0, n); increments 0 broadcast one value. */
    public static void binary(BinaryOp op, float[] a, int aOff, int aInc, float[] b, int bOff, int bInc,
                              float[] out, int outOff, int n) {
        chunked(n, (start, len) -> binaryRun(op, a, aOff + start * aInc, aInc, b, bOff + start * bInc, bInc, out,
                outOff + start, len));
    }

    private static void binaryRun(BinaryOp op, float[] a, int aOff, int aInc, float[] b, int bOff, int bInc,
                                  float[] out, int outOff, int n) {
        if (n <= 0) {
            return;
        }
        boolean aVec = aInc == 1;
        boolean bVec = bInc == 1;
        if (!(aVec || aInc == 0) || !(bVec || bInc == 0)) {
            for (int i = 0; i < n; i++) {
                out[outOff + i] = apply(op, a[aOff + i * aInc], b[bOff + i * bInc]);
            }
            return;
        }
        // The common ops get a loop of their own: a small method C2 compiles with the vector op intrinsified
        // and inlined. A shared loop calling a large switch over all ops was much slower: a JFR profile showed
        // the switch not inlined, so every vector it returned was boxed on the heap.
        switch (op) {
            case ADD -> add(a, aOff, aVec, b, bOff, bVec, out, outOff, n);
            case SUB -> sub(a, aOff, aVec, b, bOff, bVec, out, outOff, n);
            case MUL -> mul(a, aOff, aVec, b, bOff, bVec, out, outOff, n);
            case DIV -> div(a, aOff, aVec, b, bOff, bVec, out, outOff, n);
            default -> generic(op, a, aOff, aVec, b, bOff, bVec, out, outOff, n);
        }
    }

    private static void add(float[] a, int ao, boolean av, float[] b, int bo, boolean bv, float[] o, int oo, int n) {
        FloatVector as = FloatVector.broadcast(S, a[ao]);
        FloatVector bs = FloatVector.broadcast(S, b[bo]);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            (av ? FloatVector.fromArray(S, a, ao + i) : as).add(bv ? FloatVector.fromArray(S, b, bo + i) : bs)
                    .intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = a[ao + (av ? i : 0)] + b[bo + (bv ? i : 0)];
        }
    }

    private static void sub(float[] a, int ao, boolean av, float[] b, int bo, boolean bv, float[] o, int oo, int n) {
        FloatVector as = FloatVector.broadcast(S, a[ao]);
        FloatVector bs = FloatVector.broadcast(S, b[bo]);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            (av ? FloatVector.fromArray(S, a, ao + i) : as).sub(bv ? FloatVector.fromArray(S, b, bo + i) : bs)
                    .intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = a[ao + (av ? i : 0)] - b[bo + (bv ? i : 0)];
        }
    }

    private static void mul(float[] a, int ao, boolean av, float[] b, int bo, boolean bv, float[] o, int oo, int n) {
        FloatVector as = FloatVector.broadcast(S, a[ao]);
        FloatVector bs = FloatVector.broadcast(S, b[bo]);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            (av ? FloatVector.fromArray(S, a, ao + i) : as).mul(bv ? FloatVector.fromArray(S, b, bo + i) : bs)
                    .intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = a[ao + (av ? i : 0)] * b[bo + (bv ? i : 0)];
        }
    }

    private static void div(float[] a, int ao, boolean av, float[] b, int bo, boolean bv, float[] o, int oo, int n) {
        FloatVector as = FloatVector.broadcast(S, a[ao]);
        FloatVector bs = FloatVector.broadcast(S, b[bo]);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            (av ? FloatVector.fromArray(S, a, ao + i) : as).div(bv ? FloatVector.fromArray(S, b, bo + i) : bs)
                    .intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = a[ao + (av ? i : 0)] / b[bo + (bv ? i : 0)];
        }
    }

    /** The remaining ops (max/min, pow, comparisons): one loop that switches per vector. */
    private static void generic(BinaryOp op, float[] a, int ao, boolean av, float[] b, int bo, boolean bv,
                                float[] o, int oo, int n) {
        FloatVector as = FloatVector.broadcast(S, a[ao]);
        FloatVector bs = FloatVector.broadcast(S, b[bo]);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = av ? FloatVector.fromArray(S, a, ao + i) : as;
            FloatVector y = bv ? FloatVector.fromArray(S, b, bo + i) : bs;
            apply(op, x, y).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = apply(op, a[ao + (av ? i : 0)], b[bo + (bv ? i : 0)]);
        }
    }

    /** out[i] = op(x[xOff + i*xInc]) for i in [0, n). */
    public static void unary(UnaryOp op, float[] x, int xOff, int xInc, float[] out, int outOff, int n) {
        chunked(n, (start, len) -> unaryRun(op, x, xOff + start * xInc, xInc, out, outOff + start, len));
    }

    private static void unaryRun(UnaryOp op, float[] x, int xOff, int xInc, float[] out, int outOff, int n) {
        if (xInc != 1) {
            for (int i = 0; i < n; i++) {
                out[outOff + i] = apply(op, x[xOff + i * xInc]);
            }
            return;
        }
        switch (op) { // own loops for the ops training runs most (see binaryRun)
            case EXP -> exp(x, xOff, out, outOff, n);
            case SILU -> silu(x, xOff, out, outOff, n);
            case SIGMOID -> sigmoid(x, xOff, out, outOff, n);
            default -> {
                int i = 0;
                for (int bound = S.loopBound(n); i < bound; i += L) {
                    apply(op, FloatVector.fromArray(S, x, xOff + i)).intoArray(out, outOff + i);
                }
                for (; i < n; i++) {
                    out[outOff + i] = apply(op, x[xOff + i]);
                }
            }
        }
    }

    private static void exp(float[] x, int xo, float[] o, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            VMath.exp(FloatVector.fromArray(S, x, xo + i)).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = (float) Math.exp(x[xo + i]);
        }
    }

    private static void silu(float[] x, int xo, float[] o, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            v.div(ONE.add(VMath.exp(v.neg()))).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = apply(UnaryOp.SILU, x[xo + i]);
        }
    }

    private static void sigmoid(float[] x, int xo, float[] o, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            ONE.div(ONE.add(VMath.exp(v.neg()))).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = apply(UnaryOp.SIGMOID, x[xo + i]);
        }
    }

    /**
     * out[i] = silu(a[i]) * b[i] over contiguous runs, the gate of a SwiGLU block in one pass (silu as
     * {@link UnaryOp#SILU} computes it, so the result equals {@code a.silu().mul(b)} bit for bit).
     */
    public static void siluMul(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        chunked(n, (start, len) -> siluMulRun(a, aOff + start, b, bOff + start, out, outOff + start, len));
    }

    private static void siluMulRun(float[] a, int ao, float[] b, int bo, float[] o, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            v.div(ONE.add(VMath.exp(v.neg()))).mul(FloatVector.fromArray(S, b, bo + i)).intoArray(o, oo + i);
        }
        for (; i < n; i++) {
            o[oo + i] = apply(UnaryOp.SILU, a[ao + i]) * b[bo + i];
        }
    }

    /**
     * The gradients of out = silu(a) * b for output gradient g, in one pass over contiguous runs:
     * dA[i] = g[i] b[i] σ(a[i]) (1 + a[i] (1 − σ(a[i]))) and dB[i] = g[i] silu(a[i]), with the operations in the order
     * of the autograd ops {@code a.silu().mul(b)} would run them. Either output may be null (not wanted).
     */
    public static void siluMulBackward(float[] a, int aOff, float[] b, int bOff, float[] g, int gOff, float[] dA,
                                       int dAOff, float[] dB, int dBOff, int n) {
        chunked(n, (start, len) -> siluMulBackwardRun(a, aOff + start, b, bOff + start, g, gOff + start, dA,
                dAOff + start, dB, dBOff + start, len));
    }

    private static void siluMulBackwardRun(float[] a, int ao, float[] b, int bo, float[] g, int go, float[] dA,
                                           int dao, float[] dB, int dbo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, a, ao + i);
            FloatVector gv = FloatVector.fromArray(S, g, go + i);
            FloatVector den = ONE.add(VMath.exp(x.neg()));
            if (dA != null) {
                FloatVector sig = ONE.div(den);
                FloatVector slope = sig.mul(x.mul(sig.neg().add(ONE)).add(ONE));
                gv.mul(FloatVector.fromArray(S, b, bo + i)).mul(slope).intoArray(dA, dao + i);
            }
            if (dB != null) {
                gv.mul(x.div(den)).intoArray(dB, dbo + i);
            }
        }
        for (; i < n; i++) {
            float x = a[ao + i];
            if (dA != null) {
                float sig = apply(UnaryOp.SIGMOID, x);
                dA[dao + i] = g[go + i] * b[bo + i] * (sig * (x * (-sig + 1f) + 1f));
            }
            if (dB != null) {
                dB[dbo + i] = g[go + i] * apply(UnaryOp.SILU, x);
            }
        }
    }

    /** A loop over [0, n) in runs: split over {@link Parallel} when long, else one run in the calling thread. */
    private static void chunked(int n, Run run) {
        if (n >= PARALLEL_THRESHOLD && Parallel.threads() > 1) {
            int chunks = (n + CHUNK - 1) / CHUNK;
            Parallel.parallelFor(chunks, c -> run.run(c * CHUNK, Math.min(CHUNK, n - c * CHUNK)));
        } else if (n > 0) {
            run.run(0, n);
        }
    }

    /** A run [start, start + len) of a {@link #chunked} loop. */
    @FunctionalInterface
    private interface Run {
        void run(int start, int len);
    }

    /** y[i] += alpha * x[i] over contiguous runs (the BLAS axpy). */
    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector.fromArray(S, x, xOff + i).fma(va, FloatVector.fromArray(S, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
        }
    }

    /** x[i] *= alpha over a contiguous run. */
    public static void scale(float alpha, float[] x, int off, int n) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += L) {
            FloatVector.fromArray(S, x, off + i).mul(va).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= alpha;
        }
    }

    /** The vector form of a binary op. */
    static FloatVector apply(BinaryOp op, FloatVector x, FloatVector y) {
        return switch (op) {
            case ADD -> x.add(y);
            case SUB -> x.sub(y);
            case MUL -> x.mul(y);
            case DIV -> x.div(y);
            case MAX -> x.max(y);
            case MIN -> x.min(y);
            case POW -> x.lanewise(VectorOperators.POW, y);
            case GT -> ZERO.blend(ONE, x.compare(VectorOperators.GT, y));
            case GE -> ZERO.blend(ONE, x.compare(VectorOperators.GE, y));
            case LT -> ZERO.blend(ONE, x.compare(VectorOperators.LT, y));
            case LE -> ZERO.blend(ONE, x.compare(VectorOperators.LE, y));
            case EQ -> ZERO.blend(ONE, x.compare(VectorOperators.EQ, y));
            case NE -> ZERO.blend(ONE, x.compare(VectorOperators.NE, y));
        };
    }

    /** The scalar form of a binary op (loop tails and strided runs). */
    public static float apply(BinaryOp op, float x, float y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case MAX -> Math.max(x, y);
            case MIN -> Math.min(x, y);
            case POW -> (float) Math.pow(x, y);
            case GT -> x > y ? 1f : 0f;
            case GE -> x >= y ? 1f : 0f;
            case LT -> x < y ? 1f : 0f;
            case LE -> x <= y ? 1f : 0f;
            case EQ -> x == y ? 1f : 0f;
            case NE -> x != y ? 1f : 0f;
        };
    }

    private static final FloatVector ZERO = FloatVector.zero(S);
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);
    private static final FloatVector HALF = FloatVector.broadcast(S, 0.5f);
    private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));

    /** The vector form of a unary op. */
    static FloatVector apply(UnaryOp op, FloatVector v) {
        return switch (op) {
            case NEG -> v.neg();
            case ABS -> v.abs();
            case EXP -> VMath.exp(v);
            case LOG -> v.lanewise(VectorOperators.LOG);
            case SQRT -> v.sqrt();
            case RSQRT -> ONE.div(v.sqrt());
            case TANH -> VMath.tanh(v);
            case SIGMOID -> ONE.div(ONE.add(VMath.exp(v.neg())));
            case SILU -> v.div(ONE.add(VMath.exp(v.neg())));
            case GELU -> v.mul(HALF).mul(ONE.add(erf(v.mul(INV_SQRT2))));
            case RELU -> v.max(ZERO);
            case SQUARE -> v.mul(v);
            case RECIPROCAL -> ONE.div(v);
        };
    }

    /** The scalar form of a unary op. */
    public static float apply(UnaryOp op, float x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> (float) Math.exp(x);
            case LOG -> (float) Math.log(x);
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> (float) (1 / Math.sqrt(x));
            case TANH -> (float) Math.tanh(x);
            case SIGMOID -> (float) (1 / (1 + Math.exp(-x)));
            case SILU -> (float) (x / (1 + Math.exp(-x)));
            case GELU -> 0.5f * x * (1 + erf(x * INV_SQRT2));
            case RELU -> x > 0 ? x : (x == x ? 0f : x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
        };
    }

    // erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7, below float resolution near 1), odd-extended.
    private static final float P = 0.3275911f;
    private static final float A1 = 0.254829592f;
    private static final float A2 = -0.284496736f;
    private static final float A3 = 1.421413741f;
    private static final float A4 = -1.453152027f;
    private static final float A5 = 1.061405429f;

    private static FloatVector erf(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector t = ONE.div(ax.fma(FloatVector.broadcast(S, P), ONE));
        FloatVector poly = t.fma(FloatVector.broadcast(S, A5), FloatVector.broadcast(S, A4));
        poly = t.fma(poly, FloatVector.broadcast(S, A3));
        poly = t.fma(poly, FloatVector.broadcast(S, A2));
        poly = t.fma(poly, FloatVector.broadcast(S, A1));
        poly = poly.mul(t);
        FloatVector y = ONE.sub(poly.mul(VMath.exp(ax.mul(ax).neg())));
        return y.blend(y.neg(), x.compare(VectorOperators.LT, 0f));
    }

    /** The error function to about 1.5e-7 absolute. */
    public static float erf(float x) {
        float ax = Math.abs(x);
        float t = 1 / Math.fma(ax, P, 1f);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float y = 1 - poly * (float) Math.exp(-ax * ax);
        return x < 0 ? -y : y;
    }
}
