package dev.lory4j.bench;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * One GEMM problem C[m,n] = A[m,k] * op(B), op(B) = B[k,n], or B[n,k]^T when {@code transB}, repeated over
 * {@code batch} independent matrices. Named {@code MxNxK}, with a {@code T} suffix when B is transposed
 * ({@code 4096x4096x256T}) and a {@code B*} prefix for a batch ({@code 32*128x688x256T}: the per-segment
 * products of a Lory layer with 32 segments of 128 tokens).
 */
public record GemmShape(int batch, int m, int n, int k, boolean transB) {

    /** A single product. */
    public GemmShape(int m, int n, int k, boolean transB) {
        this(1, m, n, k, transB);
    }

    /** Validates the dimensions. */
    public GemmShape {
        if (batch < 1 || m < 1 || n < 1 || k < 1) {
            throw new IllegalArgumentException("GemmShape: dimensions must be >= 1, got batch=" + batch + " m=" + m
                    + " n=" + n + " k=" + k);
        }
        if ((long) batch * m * n > Integer.MAX_VALUE || (long) batch * m * k > Integer.MAX_VALUE
                || (long) batch * k * n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("GemmShape: " + m + "x" + n + "x" + k + " has a matrix larger than 2^31 floats");
        }
    }

    /** The defaults: squares 256..2048 and the transformer shapes of a 256-wide model with a 688-wide FFN. */
    public static final List<GemmShape> DEFAULTS = List.of(
            square(256), square(512), square(1024), square(2048),
            new GemmShape(4096, 688, 256, false),   // x[4096,256] . W_up[256,688]
            new GemmShape(4096, 256, 688, false),   // h[4096,688] . W_down[688,256]
            new GemmShape(4096, 256, 256, false),   // x[4096,256] . W_q[256,256]
            new GemmShape(4096, 4096, 256, true));  // q[4096,256] . k[4096,256]^T

    /** An n x n x n problem without transposes. */
    public static GemmShape square(int n) {
        return new GemmShape(n, n, n, false);
    }

    /** The name, {@code MxNxK} plus {@code T} when B is transposed. */
    public String name() {
        return (batch > 1 ? batch + "*" : "") + m + "x" + n + "x" + k + (transB ? "T" : "");
    }

    /** Floating-point operations of the whole batch: 2*batch*m*n*k. */
    public double flops() {
        return 2.0 * batch * m * n * k;
    }

    /** Leading dimension (row stride) of the stored A: k. */
    public int lda() {
        return k;
    }

    /** Leading dimension (row stride) of the stored B: k when transposed (B is [n,k]), else n. */
    public int ldb() {
        return transB ? k : n;
    }

    /**
     * Parses a comma-separated list: {@code all} (the defaults), a size {@code N} (an N x N x N square) or a
     * shape {@code MxNxK} / {@code MxNxKT}. Duplicates are dropped, order kept.
     */
    public static List<GemmShape> parseList(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("--shapes: empty list");
        }
        LinkedHashSet<GemmShape> out = new LinkedHashSet<>();
        for (String raw : spec.split(",")) {
            String item = raw.strip();
            if (item.equalsIgnoreCase("all")) {
                out.addAll(DEFAULTS);
            } else {
                out.add(parse(item));
            }
        }
        return new ArrayList<>(out);
    }

    /** Parses one item of {@link #parseList}. */
    public static GemmShape parse(String item) {
        String s = item.strip().toLowerCase(Locale.ROOT);
        int batch = 1;
        int star = s.indexOf('*');
        if (star > 0) {
            try {
                batch = Integer.parseInt(s.substring(0, star));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--shapes: '" + item + "': batch '" + s.substring(0, star)
                        + "' is not a number", e);
            }
            s = s.substring(star + 1);
        }
        boolean t = s.endsWith("t");
        if (t) {
            s = s.substring(0, s.length() - 1);
        }
        String[] parts = s.split("x", -1);
        try {
            if (parts.length == 1 && !t && batch == 1) {
                return square(Integer.parseInt(parts[0]));
            }
            if (parts.length == 3) {
                return new GemmShape(batch, Integer.parseInt(parts[0]), Integer.parseInt(parts[1]),
                        Integer.parseInt(parts[2]), t);
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--shapes: '" + item + "': " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("--shapes: '" + item
                + "' is neither a size N, a shape MxNxK, a transposed-B shape MxNxKT, a batch B*MxNxK[T], nor 'all'");
    }
}
