package dev.lory4j.accel;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;

/**
 * The device kernels of a compiled step ({@link GraphPlan}): one per kind of primitive, over strided views of up to
 * four dimensions. A view's offset and strides, and an op's sizes, come from one shared integer array {@code m} at
 * {@code base} (scalars would be baked into each compiled kernel; reading them keeps the kernels few and general).
 * One work item per output element unless said otherwise.
 */
final class GraphKernels {
    private GraphKernels() {}

    /** Ops of {@link #elementwiseKernel}: a copy, a fill, then the unary ops and the binary ops by ordinal. */
    static final int COPY = 0;
    static final int FILL = 1;
    static final int UNARY = 10;
    static final int BINARY = 30;

    /**
     * out = op(a, b) elementwise over a shape [d0, d1, d2, d3]: {@code m[base..]} = op, n (elements), d1, d2, d3,
     * then out, a and b as (offset, four strides); a broadcast dimension has stride 0.
     */
    static void elementwiseKernel(KernelContext ctx, float[] a, float[] b, float[] out, int[] m, int base,
                                  float value) {
        int i = ctx.globalIdx;
        if (i < m[base + 1]) {
            int i3 = i % m[base + 4];
            int r = i / m[base + 4];
            int i2 = r % m[base + 3];
            r = r / m[base + 3];
            int i1 = r % m[base + 2];
            int i0 = r / m[base + 2];
            out[at(m, base + 5, i0, i1, i2, i3)] = apply(m[base], a[at(m, base + 10, i0, i1, i2, i3)],
                    b[at(m, base + 15, i0, i1, i2, i3)], value);
        }
    }

    /** The index of element (i0, i1, i2, i3) of a view whose offset and four strides are m[p .. p+4]. */
    private static int at(int[] m, int p, int i0, int i1, int i2, int i3) {
        return m[p] + i0 * m[p + 1] + i1 * m[p + 2] + i2 * m[p + 3] + i3 * m[p + 4];
    }

    /** The value of op (see {@link #elementwiseKernel}) at x (and y). */
    private static float apply(int op, float x, float y, float value) {
        float r;
        if (op == COPY) {
            r = x;
        } else if (op == FILL) {
            r = value;
        } else if (op == UNARY) { // NEG
            r = -x;
        } else if (op == UNARY + 1) { // ABS
            r = TornadoMath.abs(x);
        } else if (op == UNARY + 2) { // EXP
            r = TornadoMath.exp(x);
        } else if (op == UNARY + 3) { // LOG
            r = TornadoMath.log(x);
        } else if (op == UNARY + 4) { // SQRT
            r = TornadoMath.sqrt(x);
        } else if (op == UNARY + 5) { // RSQRT
            r = 1f / TornadoMath.sqrt(x);
        } else if (op == UNARY + 6) { // TANH
            r = TornadoMath.tanh(x);
        } else if (op == UNARY + 7) { // SIGMOID
            r = 1f / (1f + TornadoMath.exp(-x));
        } else if (op == UNARY + 8) { // SILU
            r = x / (1f + TornadoMath.exp(-x));
        } else if (op == UNARY + 10) { // RELU (NaN stays NaN)
            r = x > 0f ? x : (x == x ? 0f : x);
        } else if (op == UNARY + 11) { // SQUARE
            r = x * x;
        } else if (op == UNARY + 12) { // RECIPROCAL
            r = 1f / x;
        } else if (op == BINARY) { // ADD
            r = x + y;
        } else if (op == BINARY + 1) { // SUB
            r = x - y;
        } else if (op == BINARY + 2) { // MUL
            r = x * y;
        } else if (op == BINARY + 3) { // DIV
            r = x / y;
        } else if (op == BINARY + 4) { // MAX
            r = TornadoMath.max(x, y);
        } else if (op == BINARY + 5) { // MIN
            r = TornadoMath.min(x, y);
        } else if (op == BINARY + 6) { // POW
            r = TornadoMath.pow(x, y);
        } else if (op == BINARY + 7) { // GT
            r = x > y ? 1f : 0f;
        } else if (op == BINARY + 8) { // GE
            r = x >= y ? 1f : 0f;
        } else if (op == BINARY + 9) { // LT
            r = x < y ? 1f : 0f;
        } else if (op == BINARY + 10) { // LE
            r = x <= y ? 1f : 0f;
        } else if (op == BINARY + 11) { // EQ
            r = x == y ? 1f : 0f;
        } else { // NE
            r = x != y ? 1f : 0f;
        }
        return r;
    }

    /**
     * out = c != 0 ? a : b over [d0, d1, d2, d3]: {@code m[base..]} = unused, n, d1, d2, d3, then out, c, a and b as
     * (offset, four strides).
     */
    static void whereKernel(KernelContext ctx, float[] c, float[] a, float[] b, float[] out, int[] m, int base) {
        int i = ctx.globalIdx;
        if (i < m[base + 1]) {
            int i3 = i % m[base + 4];
            int r = i / m[base + 4];
            int i2 = r % m[base + 3];
            r = r / m[base + 3];
            int i1 = r % m[base + 2];
            int i0 = r / m[base + 2];
            out[at(m, base + 5, i0, i1, i2, i3)] = c[at(m, base + 10, i0, i1, i2, i3)] != 0f
                    ? a[at(m, base + 15, i0, i1, i2, i3)] : b[at(m, base + 20, i0, i1, i2, i3)];
        }
    }

    /**
     * A reduction into a contiguous out: {@code m[base..]} = op (0 sum, 1 mean, 2 max, 3 min), n (outputs), the
     * kept sizes o1, o2, o3 (reduced axes 1), the count reduced per output, the reduced sizes r1, r2, r3 (kept axes
     * 1), then x's offset and four strides. Sums in the order of the reduced elements.
     */
    static void reduceKernel(KernelContext ctx, float[] x, float[] out, int[] m, int base) {
        int i = ctx.globalIdx;
        if (i < m[base + 1]) {
            int op = m[base];
            int i3 = i % m[base + 4];
            int q = i / m[base + 4];
            int i2 = q % m[base + 3];
            q = q / m[base + 3];
            int i1 = q % m[base + 2];
            int i0 = q / m[base + 2];
            int count = m[base + 5];
            float acc = 0f;
            for (int j = 0; j < count; j++) {
                int j3 = j % m[base + 8];
                int p = j / m[base + 8];
                int j2 = p % m[base + 7];
                p = p / m[base + 7];
                int j1 = p % m[base + 6];
                int j0 = p / m[base + 6];
                float v = x[at(m, base + 9, i0 + j0, i1 + j1, i2 + j2, i3 + j3)];
                if (j == 0) {
                    acc = v;
                } else if (op == 2) {
                    acc = TornadoMath.max(acc, v);
                } else if (op == 3) {
                    acc = TornadoMath.min(acc, v);
                } else {
                    acc += v;
                }
            }
            out[i] = op == 1 ? acc / count : acc;
        }
    }

    /**
     * Softmax (log-softmax when {@code log} is 1) of contiguous x viewed as [outer, len, inner] along the middle
     * axis; one item per (outer, inner) line.
     */
    static void softmaxAxisKernel(KernelContext ctx, float[] x, float[] out, int outer, int len, int inner, int log) {
        int g = ctx.globalIdx;
        if (g < outer * inner) {
            int start = (g / inner) * len * inner + g % inner;
            float max = x[start];
            for (int j = 1; j < len; j++) {
                max = TornadoMath.max(max, x[start + j * inner]);
            }
            float sum = 0f;
            for (int j = 0; j < len; j++) {
                sum += TornadoMath.exp(x[start + j * inner] - max);
            }
            float logSum = TornadoMath.log(sum);
            for (int j = 0; j < len; j++) {
                float v = x[start + j * inner] - max;
                out[start + j * inner] = log == 1 ? v - logSum : TornadoMath.exp(v) / sum;
            }
        }
    }

    /**
     * The top-k mask along the middle axis of contiguous x [outer, len, inner]: an element is kept (1) when fewer than
     * k elements of its line are greater, or equal at a smaller index (the CPU's rule); one work-item an element.
     */
    static void topKMaskKernel(KernelContext ctx, float[] x, float[] out, int outer, int len, int inner, int k) {
        int e = ctx.globalIdx;
        if (e < outer * len * inner) {
            int in = e % inner;
            int j = (e / inner) % len;
            int start = (e / (inner * len)) * len * inner + in;
            float v = x[e];
            int rank = 0;
            for (int q = 0; q < len; q++) {
                float w = x[start + q * inner];
                if (w > v) {
                    rank++;
                } else if (w == v && q < j) {
                    rank++;
                }
            }
            out[e] = rank < k ? 1f : 0f;
        }
    }

    /**
     * The clip of a step that updates: the squared norm as the sum of every gradient's chunk sums in double, in order
     * (the host's sum), norm = √ of it and GradClip's coefficient maxNorm / (norm + 1e-6) where it is below 1, else 1:
     * clip = [norm, coef]. One work item.
     */
    static void clipKernel(KernelContext ctx, float[] partials, int count, float[] clip, double maxNorm) {
        if (ctx.globalIdx == 0) {
            double s = 0;
            for (int j = 0; j < count; j++) {
                s += partials[j];
            }
            double norm = TornadoMath.sqrt(s);
            double coef = maxNorm / (norm + 1e-6);
            clip[0] = (float) norm;
            clip[1] = coef < 1 ? (float) coef : 1f;
        }
    }

    /**
     * G *= clip[1] (the clipping), then the AdamW step of W with G and the moments, as
     * {@link TornadoKernels#adamwKernel}. One work item per element.
     */
    static void clippedAdamwKernel(KernelContext ctx, float[] p, float[] g, float[] m, float[] v, float[] h,
                                   float[] clip, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            float gi = g[i] * clip[1];
            g[i] = gi;
            TornadoKernels.adamwAt(p, gi, m, v, h, i);
        }
    }

    /** out[o, i, :] = x[o, idx[i], :] for contiguous x [outer, rows, inner] and n indices. */
    static void indexSelectKernel(KernelContext ctx, float[] x, int[] idx, float[] out, int outer, int rows, int n,
                                  int inner) {
        int e = ctx.globalIdx;
        if (e < outer * n * inner) {
            int in = e % inner;
            int r = e / inner;
            int i = r % n;
            int o = r / n;
            out[e] = x[(o * rows + idx[i]) * inner + in];
        }
    }

    /**
     * out = x with src [outer, n, inner] slice i added to row idx[i] of x [outer, rows, inner], given idx as lists
     * per row: positions[offsets[j] .. offsets[j+1]) are the i with idx[i] = j, ascending (the CPU's order of sums).
     */
    static void indexAddKernel(KernelContext ctx, float[] x, float[] src, int[] offsets, int[] positions, float[] out,
                               int outer, int rows, int n, int inner) {
        int e = ctx.globalIdx;
        if (e < outer * rows * inner) {
            int in = e % inner;
            int r = e / inner;
            int j = r % rows;
            int o = r / rows;
            float acc = x[e];
            for (int p = offsets[j]; p < offsets[j + 1]; p++) {
                acc += src[(o * n + positions[p]) * inner + in];
            }
            out[e] = acc;
        }
    }

    /** out[at] = the mean of the row losses whose target is not {@code ignore} (NaN when none is); one item. */
    static void meanLossKernel(KernelContext ctx, float[] rowLoss, int[] t, float[] out, int at, int rows,
                               int ignore) {
        if (ctx.globalIdx == 0) {
            float sum = 0f;
            int count = 0;
            for (int i = 0; i < rows; i++) {
                if (t[i] != ignore) {
                    sum += rowLoss[i];
                    count++;
                }
            }
            out[at] = sum / count;
        }
    }

    /** s[0] = dy[at] / (the rows whose target is not {@code ignore}): the mean's gradient per row; one item. */
    static void lossScaleKernel(KernelContext ctx, float[] dy, int at, int[] t, float[] s, int rows, int ignore) {
        if (ctx.globalIdx == 0) {
            int count = 0;
            for (int i = 0; i < rows; i++) {
                if (t[i] != ignore) {
                    count++;
                }
            }
            s[0] = dy[at] / count;
        }
    }
}
