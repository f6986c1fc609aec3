package dev.lory4j.bench;

import dev.lory4j.tensor.kernels.Gemm;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;

/** Our {@code Gemm.sgemm} against OpenBLAS {@code cblas_sgemm} on the same inputs, in this JVM. */
public final class GemmCompare {
    private GemmCompare() {}

    /** Largest accepted relative error ||ours - peer||_F / ||peer||_F before timing. */
    public static final double TOLERANCE = 1e-4;

    /** One measured row; {@code ratio} is the median per-pair ratio of our speed to the peer's. */
    public record Row(String shape, int threads, double oursGflops, double peerGflops, double ratio,
                      double ratioP25, double ratioP75, int pairs) {

        /** The row as the JSON object the CLI writes (keys shape, threads, ours_gflops, peer_gflops, ratio). */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("shape", shape);
            m.put("threads", threads);
            m.put("ours_gflops", oursGflops);
            m.put("peer_gflops", peerGflops);
            m.put("ratio", ratio);
            return m;
        }

        /** One tab-separated line, exact in every field, for passing rows from a child JVM. */
        public String toLine() {
            return String.join("\t", shape, Integer.toString(threads), Double.toString(oursGflops),
                    Double.toString(peerGflops), Double.toString(ratio), Double.toString(ratioP25),
                    Double.toString(ratioP75), Integer.toString(pairs));
        }

        /** Inverse of {@link #toLine}. */
        public static Row fromLine(String line) {
            String[] f = line.split("\t", -1);
            if (f.length != 8) {
                throw new IllegalArgumentException("GemmCompare.Row.fromLine: expected 8 tab-separated fields, got "
                        + f.length + " in '" + line + "'");
            }
            return new Row(f[0], Integer.parseInt(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]),
                    Integer.parseInt(f[7]));
        }
    }

    /** Thrown when our product differs from the peer's by more than {@link #TOLERANCE}. */
    public static final class MismatchException extends RuntimeException {
        MismatchException(String message) {
            super(message);
        }
    }

    /**
     * Checks our result against OpenBLAS, then times both ({@link PairTimer}) at the thread count this JVM was
     * started with; {@code threads} only labels the row and sets OpenBLAS's count.
     */
    public static Row run(GemmShape s, int threads, double warmupSeconds, double seconds) {
        OpenBlas.setThreads(threads);
        int batch = s.batch();
        int m = s.m();
        int n = s.n();
        int k = s.k();
        boolean tb = s.transB();
        int lda = s.lda();
        int ldb = s.ldb();
        float[] a = random(batch * m * k, 1);
        float[] b = random(batch * k * n, 2);
        float[] c = new float[batch * m * n];
        float[] ref = new float[batch * m * n];
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b);
             FloatPointer pc = new FloatPointer((long) batch * m * n)) {
            // The peer has no batched call here: one cblas_sgemm per matrix, on views into the same buffers.
            FloatPointer[] as = new FloatPointer[batch];
            FloatPointer[] bs = new FloatPointer[batch];
            FloatPointer[] cs = new FloatPointer[batch];
            for (int t = 0; t < batch; t++) {
                as[t] = new FloatPointer(pa).position((long) t * m * k);
                bs[t] = new FloatPointer(pb).position((long) t * k * n);
                cs[t] = new FloatPointer(pc).position((long) t * m * n);
            }
            Runnable ours = () -> Gemm.sgemmBatched(batch, false, tb, m, n, k, 1f, a, 0, m * k, lda, b, 0, k * n, ldb,
                    0f, c, 0, m * n, n);
            Runnable peer = () -> {
                for (int t = 0; t < batch; t++) {
                    OpenBlas.sgemm(false, tb, m, n, k, 1f, as[t], lda, bs[t], ldb, 0f, cs[t], n);
                }
            };
            ours.run();
            peer.run();
            pc.get(ref);
            double err = relativeError(c, ref);
            if (!(err <= TOLERANCE)) {
                throw new MismatchException("gemm " + s.name() + " threads=" + threads
                        + ": lory4j Gemm differs from OpenBLAS: relative error (Frobenius) " + err
                        + " > " + TOLERANCE + "; not timing a wrong kernel");
            }
            PairTimer.Result r = PairTimer.compare(ours, peer, warmupSeconds, seconds, 5);
            return new Row(s.name(), threads, s.flops() / r.oursNanos(), s.flops() / r.peerNanos(),
                    r.ratio(), r.ratioP25(), r.ratioP75(), r.pairs());
        }
    }

    /** ||x - ref||_F / ||ref||_F, via {@link dev.lory4j.tensor.Tensor#relativeErrorTo}. */
    public static double relativeError(float[] x, float[] ref) {
        if (x.length != ref.length) {
            throw new IllegalArgumentException("relativeError: lengths " + x.length + " and " + ref.length + " differ");
        }
        return dev.lory4j.tensor.Tensor.wrap(x, x.length).relativeErrorTo(dev.lory4j.tensor.Tensor.wrap(ref, ref.length));
    }

    /** Uniform values in [-1, 1) from a fixed seed. */
    static float[] random(int size, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return x;
    }
}
