package dev.lory4j.tensor.kernels;

import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked inner loop of {@link Gemm}'s packed path, one per vector-register file: an {@code MR x NR}
 * tile of C held in vector registers while k runs, fed by a packed A panel ({@code MR} floats per k) and a packed B
 * panel ({@code NR} floats per k), then written from the registers into C (or into a scratch tile).
 * {@link #forMachine()} picks one at start-up from the Vector API's preferred species; tests run every constant on
 * any machine (a species wider than the hardware is emulated, slowly but exactly).
 *
 * <p>How the shapes were chosen (kernel alone on packed data in cache, {@code k = 256}, one thread, Temurin 25,
 * C2): the live registers are about accumulators + B vectors + A broadcasts, and a shape that needs more than the
 * register file spills accumulators to the stack.
 * <ul>
 *   <li><b>AVX2</b> (16 ymm registers; measured on a 2-core AMD EPYC): 3 rows x 3 vectors of 8 (9 accumulators)
 *       ran at the speed of a pure register FMA loop, ~86 GFLOP/s; 4 x 2 ~79, 2 x 4 ~81; 4 x 3, 5 x 2, 6 x 2 spilled
 *       (38-50).</li>
 *   <li><b>AVX-512</b> (32 zmm registers; measured on a 2-core Intel Xeon): 12 x 2 vectors of 16 (24 accumulators)
 *       ~186 GFLOP/s, 10 x 2 ~186, 8 x 2 ~184, 8 x 3 ~169, 6 x 4 ~150, 4 x 4 120-170, while the AVX2 shape 3 x 3 on
 *       16-lane vectors reaches only ~99: it has too few accumulators to cover the FMA latency of two FMA ports.
 *       With 2 vectors of 16 per k the B panel is 32 floats wide, so {@code k} blocks of up to 256 keep it (32 KB) in
 *       the 48 KB L1 while the A panels stream past it.</li>
 * </ul>
 */
enum MicroKernel {
    /** 3 rows x 3 vectors of the preferred species capped at 256 bits: AVX2 (and narrower machines). */
    NARROW(3, 3, narrowSpecies(), 512) {
        @Override
        void kernel(float[] pa, int aIdx, float[] pb, int bIdx, int kc, float[] c, int ci, int ldc,
                    boolean accumulate) {
            VectorSpecies<Float> s = NARROW_SPECIES;
            int v = s.length();
            FloatVector c00 = start(s, c, ci, accumulate);
            FloatVector c01 = start(s, c, ci + v, accumulate);
            FloatVector c02 = start(s, c, ci + 2 * v, accumulate);
            FloatVector c10 = start(s, c, ci + ldc, accumulate);
            FloatVector c11 = start(s, c, ci + ldc + v, accumulate);
            FloatVector c12 = start(s, c, ci + ldc + 2 * v, accumulate);
            FloatVector c20 = start(s, c, ci + 2 * ldc, accumulate);
            FloatVector c21 = start(s, c, ci + 2 * ldc + v, accumulate);
            FloatVector c22 = start(s, c, ci + 2 * ldc + 2 * v, accumulate);
            for (int p = 0; p < kc; p++) {
                int ia = aIdx + p * 3;
                int ib = bIdx + p * 3 * v;
                FloatVector b0 = FloatVector.fromArray(s, pb, ib);
                FloatVector b1 = FloatVector.fromArray(s, pb, ib + v);
                FloatVector b2 = FloatVector.fromArray(s, pb, ib + 2 * v);
                FloatVector a0 = FloatVector.broadcast(s, pa[ia]);
                c00 = a0.fma(b0, c00);
                c01 = a0.fma(b1, c01);
                c02 = a0.fma(b2, c02);
                FloatVector a1 = FloatVector.broadcast(s, pa[ia + 1]);
                c10 = a1.fma(b0, c10);
                c11 = a1.fma(b1, c11);
                c12 = a1.fma(b2, c12);
                FloatVector a2 = FloatVector.broadcast(s, pa[ia + 2]);
                c20 = a2.fma(b0, c20);
                c21 = a2.fma(b1, c21);
                c22 = a2.fma(b2, c22);
            }
            c00.intoArray(c, ci);
            c01.intoArray(c, ci + v);
            c02.intoArray(c, ci + 2 * v);
            c10.intoArray(c, ci + ldc);
            c11.intoArray(c, ci + ldc + v);
            c12.intoArray(c, ci + ldc + 2 * v);
            c20.intoArray(c, ci + 2 * ldc);
            c21.intoArray(c, ci + 2 * ldc + v);
            c22.intoArray(c, ci + 2 * ldc + 2 * v);
        }
    },

    /** 12 rows x 2 vectors of 16 floats: AVX-512's 32 registers (24 accumulators). */
    WIDE(12, 2, FloatVector.SPECIES_512, 256) {
        @Override
        void kernel(float[] pa, int aIdx, float[] pb, int bIdx, int kc, float[] c, int ci, int ldc,
                    boolean accumulate) {
            VectorSpecies<Float> s = FloatVector.SPECIES_512;
            FloatVector c00 = start(s, c, ci, accumulate);
            FloatVector c01 = start(s, c, ci + 16, accumulate);
            FloatVector c10 = start(s, c, ci + ldc, accumulate);
            FloatVector c11 = start(s, c, ci + ldc + 16, accumulate);
            FloatVector c20 = start(s, c, ci + 2 * ldc, accumulate);
            FloatVector c21 = start(s, c, ci + 2 * ldc + 16, accumulate);
            FloatVector c30 = start(s, c, ci + 3 * ldc, accumulate);
            FloatVector c31 = start(s, c, ci + 3 * ldc + 16, accumulate);
            FloatVector c40 = start(s, c, ci + 4 * ldc, accumulate);
            FloatVector c41 = start(s, c, ci + 4 * ldc + 16, accumulate);
            FloatVector c50 = start(s, c, ci + 5 * ldc, accumulate);
            FloatVector c51 = start(s, c, ci + 5 * ldc + 16, accumulate);
            FloatVector c60 = start(s, c, ci + 6 * ldc, accumulate);
            FloatVector c61 = start(s, c, ci + 6 * ldc + 16, accumulate);
            FloatVector c70 = start(s, c, ci + 7 * ldc, accumulate);
            FloatVector c71 = start(s, c, ci + 7 * ldc + 16, accumulate);
            FloatVector c80 = start(s, c, ci + 8 * ldc, accumulate);
            FloatVector c81 = start(s, c, ci + 8 * ldc + 16, accumulate);
            FloatVector c90 = start(s, c, ci + 9 * ldc, accumulate);
            FloatVector c91 = start(s, c, ci + 9 * ldc + 16, accumulate);
            FloatVector ca0 = start(s, c, ci + 10 * ldc, accumulate);
            FloatVector ca1 = start(s, c, ci + 10 * ldc + 16, accumulate);
            FloatVector cb0 = start(s, c, ci + 11 * ldc, accumulate);
            FloatVector cb1 = start(s, c, ci + 11 * ldc + 16, accumulate);
            for (int p = 0; p < kc; p++) {
                int ia = aIdx + p * 12;
                int ib = bIdx + p * 32;
                FloatVector b0 = FloatVector.fromArray(s, pb, ib);
                FloatVector b1 = FloatVector.fromArray(s, pb, ib + 16);
                FloatVector a = FloatVector.broadcast(s, pa[ia]);
                c00 = a.fma(b0, c00);
                c01 = a.fma(b1, c01);
                a = FloatVector.broadcast(s, pa[ia + 1]);
                c10 = a.fma(b0, c10);
                c11 = a.fma(b1, c11);
                a = FloatVector.broadcast(s, pa[ia + 2]);
                c20 = a.fma(b0, c20);
                c21 = a.fma(b1, c21);
                a = FloatVector.broadcast(s, pa[ia + 3]);
                c30 = a.fma(b0, c30);
                c31 = a.fma(b1, c31);
                a = FloatVector.broadcast(s, pa[ia + 4]);
                c40 = a.fma(b0, c40);
                c41 = a.fma(b1, c41);
                a = FloatVector.broadcast(s, pa[ia + 5]);
                c50 = a.fma(b0, c50);
                c51 = a.fma(b1, c51);
                a = FloatVector.broadcast(s, pa[ia + 6]);
                c60 = a.fma(b0, c60);
                c61 = a.fma(b1, c61);
                a = FloatVector.broadcast(s, pa[ia + 7]);
                c70 = a.fma(b0, c70);
                c71 = a.fma(b1, c71);
                a = FloatVector.broadcast(s, pa[ia + 8]);
                c80 = a.fma(b0, c80);
                c81 = a.fma(b1, c81);
                a = FloatVector.broadcast(s, pa[ia + 9]);
                c90 = a.fma(b0, c90);
                c91 = a.fma(b1, c91);
                a = FloatVector.broadcast(s, pa[ia + 10]);
                ca0 = a.fma(b0, ca0);
                ca1 = a.fma(b1, ca1);
                a = FloatVector.broadcast(s, pa[ia + 11]);
                cb0 = a.fma(b0, cb0);
                cb1 = a.fma(b1, cb1);
            }
            c00.intoArray(c, ci);
            c01.intoArray(c, ci + 16);
            c10.intoArray(c, ci + ldc);
            c11.intoArray(c, ci + ldc + 16);
            c20.intoArray(c, ci + 2 * ldc);
            c21.intoArray(c, ci + 2 * ldc + 16);
            c30.intoArray(c, ci + 3 * ldc);
            c31.intoArray(c, ci + 3 * ldc + 16);
            c40.intoArray(c, ci + 4 * ldc);
            c41.intoArray(c, ci + 4 * ldc + 16);
            c50.intoArray(c, ci + 5 * ldc);
            c51.intoArray(c, ci + 5 * ldc + 16);
            c60.intoArray(c, ci + 6 * ldc);
            c61.intoArray(c, ci + 6 * ldc + 16);
            c70.intoArray(c, ci + 7 * ldc);
            c71.intoArray(c, ci + 7 * ldc + 16);
            c80.intoArray(c, ci + 8 * ldc);
            c81.intoArray(c, ci + 8 * ldc + 16);
            c90.intoArray(c, ci + 9 * ldc);
            c91.intoArray(c, ci + 9 * ldc + 16);
            ca0.intoArray(c, ci + 10 * ldc);
            ca1.intoArray(c, ci + 10 * ldc + 16);
            cb0.intoArray(c, ci + 11 * ldc);
            cb1.intoArray(c, ci + 11 * ldc + 16);
        }
    };

    /** The narrow kernel's species: the preferred one, at most 256 bits (a constant, so C2 compiles it away). */
    static final VectorSpecies<Float> NARROW_SPECIES = narrowSpecies();

    /** Rows of the tile (A broadcasts per k step). */
    final int mr;
    /** Columns of the tile: {@code vectors} vectors of the kernel's species. */
    final int nr;
    /** The species the kernel computes with. */
    final VectorSpecies<Float> species;
    /** Largest K block: the B panel ({@code kcMax x nr} floats) should stay in L1. */
    final int kcMax;

    MicroKernel(int mr, int vectors, VectorSpecies<Float> species, int kcMax) {
        this.mr = mr;
        this.nr = vectors * species.length();
        this.species = species;
        this.kcMax = kcMax;
    }

    /**
     * c[ci + r * ldc + j] = s + Σ_p pa[aIdx + p * mr + r] · pb[bIdx + p * nr + j] for the whole mr x nr tile, one
     * fused multiply-add per p in order, where s is the tile's old value when {@code accumulate}, else 0 (C is then
     * not read).
     */
    abstract void kernel(float[] pa, int aIdx, float[] pb, int bIdx, int kc, float[] c, int ci, int ldc,
                         boolean accumulate);

    /** A tile register's starting value: C's vector at c[i] when accumulating, else zero. */
    private static FloatVector start(VectorSpecies<Float> s, float[] c, int i, boolean accumulate) {
        return accumulate ? FloatVector.fromArray(s, c, i) : FloatVector.zero(s);
    }

    private static VectorSpecies<Float> narrowSpecies() {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        return preferred.vectorBitSize() > 256 ? FloatVector.SPECIES_256 : preferred;
    }

    /**
     * The kernel for this machine: {@link #WIDE} where the preferred species has 512 bits (AVX-512: 32 registers),
     * else {@link #NARROW}. {@code -Dlory4j.gemm.kernel=narrow|wide} overrides it (for measurements).
     */
    static MicroKernel forMachine() {
        String forced = System.getProperty("lory4j.gemm.kernel");
        if (forced != null && !forced.isBlank()) {
            try {
                return valueOf(forced.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-Dlory4j.gemm.kernel=" + forced + ": expected narrow or wide", e);
            }
        }
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 ? WIDE : NARROW;
    }
}
