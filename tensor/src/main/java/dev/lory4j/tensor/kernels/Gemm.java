package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * float32 matrix multiplication (GEMM) on the Vector API: {@code C = alpha * op(A) * op(B) + beta * C},
 * row-major, pure Java.
 *
 * <h2>Blocking scheme</h2>
 * A GEMM does {@code 2mnk} flops on {@code mk + kn + mn} numbers, so every number loaded must be reused many
 * times from registers and caches. The micro-kernel ({@link MicroKernel}: an {@code MR x NR} tile of C in vector
 * registers) is chosen for the machine at start-up, and the blocking follows from it. The loops, outermost first:
 * <ol>
 *   <li><b>Column blocks of B</b> (about {@code NC} = 1024 columns, a multiple of NR, fewer when k is large so that
 *       the block stays under 8 MiB, split evenly): the whole k x nc slice of op(B) is <em>packed</em> once into a
 *       buffer shared by all threads, in the order the micro-kernel reads it: for each K block, panels of
 *       {@code NR} columns, each panel stored row after row ({@code NR} consecutive floats per k). Packing
 *       also takes care of transB (transposed panels are gathered, V columns per instruction).</li>
 *   <li><b>Row blocks of A</b> (at most {@code MC} = 96 rows, split evenly over the threads): the parallel
 *       tasks. Each thread keeps its {@code MC x nc} tile of C in its own L2 cache while it runs through
 *       <em>all</em> K blocks (the K loop is inside the row-block loop; walking K outermost instead would
 *       stream C through L3 once per K block, which was the largest loss measured).</li>
 *   <li><b>K blocks</b> (at most the kernel's {@code kcMax}, split evenly: 512 for the AVX2 kernel, so k = 688
 *       gives two blocks of 344; 256 for the AVX-512 one): the thread packs its {@code MC x kc} block of op(A)
 *       into panels of {@code MR} rows ({@code MR} consecutive floats per k), which also takes care of
 *       transA.</li>
 *   <li><b>Panels</b>: for each {@code kc x NR} panel of B (reused by every A panel of the row block while it
 *       is in L1) and each {@code MR x kc} panel of A, the micro-kernel keeps the {@code MR x NR} tile of C in
 *       registers: per k it loads the B vectors, broadcasts MR numbers of A and does their fused multiply-adds.
 *       When alpha is 1 and beta is 0 or 1 (every call of the model, and every K block after the first), the
 *       registers start from C's tile (or from zero) and are written straight back to C: each element of C is one
 *       chain of fused multiply-adds over all of k. Otherwise (and for edge tiles) the tile goes through a small
 *       buffer into C, where alpha and beta are applied (measured with {@code ./lory4j bench gemm}: the direct
 *       path is 3-11 % faster on the model's shapes at one thread).</li>
 * </ol>
 * Packed panels are padded with zeros, so edge tiles run the same micro-kernel; only their copy into C is
 * element by element past the last whole vector.
 *
 * <h2>Micro-kernel shapes</h2>
 * AVX2 (16 registers): 3 rows x 3 vectors of 8; AVX-512 (32 registers): 12 rows x 2 vectors of 16. Why these,
 * with the measurements, is in {@link MicroKernel}. {@code -Dlory4j.gemm.kernel=narrow|wide} forces one (for
 * measurements); tests run both on any machine.
 *
 * <h2>Skinny products</h2>
 * When op(A) has at most {@code SKINNY_M} = 16 rows (decoding, small batches) packing B would cost about as
 * much as the product, so B is read in place: without transB by a 3 x 3-vector kernel that walks B's rows,
 * with transB by dot products of A's rows with B's rows. Work is split over column ranges.
 *
 * <h2>Threads and determinism</h2>
 * Work runs on {@link Parallel}: row blocks of one product (after the shared B block is packed in parallel),
 * whole products of a batch when there are enough of them, or column ranges on the skinny path. K is cut into
 * blocks that depend only on k, never on the thread count, and a sum over K is never split between threads:
 * every element of C is computed by exactly the same sequence of float operations whatever the number of
 * threads, so <b>results are bit-identical for any thread count</b>. (They do depend on the shape: e.g. a
 * 16-row product takes the skinny path, a 17-row one the packed path.) Vector lanes are summed left to right,
 * never with {@code reduceLanes}, whose order is unspecified.
 *
 * <h2>Memory</h2>
 * Packing buffers live in a per-thread scratch object that grows when needed and is reused across calls, so
 * after warm-up a call allocates only a few small objects (the argument object and task lambdas, ~0.6 KB).
 */
public final class Gemm {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int V = S.length();

    /** The packed path's micro-kernel for this machine, chosen once at start-up. */
    static final MicroKernel KERNEL = MicroKernel.forMachine();
    /** Skinny-path tile rows (A rows read in place per k step). */
    private static final int SK_MR = 3;
    /** Skinny-path tile columns: three vectors of the preferred species. */
    private static final int SK_NR = 3 * V;
    /** Largest row block of A (a multiple of every kernel's MR); the parallel unit. */
    static final int MC = 96;
    /** Largest column block of B, before rounding up to a multiple of the kernel's NR. */
    static final int NC = 1024;
    /** The packed k x NC block of B is kept under this many floats (8 MiB) by narrowing NC when k is large. */
    static final int B_BLOCK_FLOATS = 1 << 21;
    /** Products with at most this many rows take the skinny path that reads B in place. */
    static final int SKINNY_M = 16;
    /** Below this many multiply-adds a product runs in the calling thread only. */
    private static final long SEQUENTIAL_FMAS = 1L << 18;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Gemm() {
    }

    /**
     * C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is m x k, op(B) is k x n, C is m x n.
     * transA=false: op(A)[i][p] = a[aOff + i*lda + p]; transA=true: op(A)[i][p] = a[aOff + p*lda + i]
     * (likewise for B with ldb); C[i][j] = c[cOff + i*ldc + j]. beta == 0 overwrites C without reading it.
     *
     * @throws IllegalArgumentException for negative sizes or offsets, a leading dimension smaller than the
     *     stored row width, or an array too short; the message names sgemm and the values
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        sgemmBatched(1, transA, transB, m, n, k, alpha, a, aOff, 0, lda, b, bOff, 0, ldb, beta, c, cOff, 0, ldc);
    }

    /**
     * The same for {@code batch} independent products; matrix t starts at aOff + t*strideA (resp. b, c).
     * Threads share out whole products or, for few products, the tiles of each; strideB may be 0 (one B for
     * all), the C matrices must not overlap.
     */
    public static void sgemmBatched(int batch, boolean transA, boolean transB, int m, int n, int k, float alpha,
                                    float[] a, int aOff, int strideA, int lda, float[] b, int bOff, int strideB,
                                    int ldb, float beta, float[] c, int cOff, int strideC, int ldc) {
        sgemmBatched(KERNEL, batch, transA, transB, m, n, k, alpha, a, aOff, strideA, lda, b, bOff, strideB, ldb,
                beta, c, cOff, strideC, ldc);
    }

    /** {@link #sgemmBatched} with a given micro-kernel (tests run every kernel on any machine). */
    static void sgemmBatched(MicroKernel kernel, int batch, boolean transA, boolean transB, int m, int n, int k,
                             float alpha, float[] a, int aOff, int strideA, int lda, float[] b, int bOff, int strideB,
                             int ldb, float beta, float[] c, int cOff, int strideC, int ldc) {
        Call call = new Call(kernel, batch, transA, transB, m, n, k, alpha, a, aOff, strideA, lda, b, bOff, strideB,
                ldb, beta, c, cOff, strideC, ldc);
        call.validate();
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            for (int t = 0; t < batch; t++) {
                scaleC(call, t);
            }
            return;
        }
        boolean small = (long) batch * m * n * k < SEQUENTIAL_FMAS;
        int threads = Parallel.threads();
        if (n <= SKINNY_M && m > SKINNY_M && !small) {
            // Tall and thin (e.g. the expert-merge backward dM . Wflat^T: [32, P] x [P, 8]): the transposed
            // product C^T = op(B)^T op(A)^T has few rows and takes the skinny path, which reads both operands
            // in place instead of packing a k-long, n-wide panel (`./lory4j bench gemm --shapes 32x8x176128T`: 0.91x
            // OpenBLAS on 2 threads).
            tallThinViaTranspose(call);
            return;
        }
        if (m <= SKINNY_M) {
            skinny(call, small);
        } else if (small) {
            for (int t = 0; t < batch; t++) {
                packedInOneThread(call, t);
            }
        } else if (batch >= threads && (batch % threads == 0 || batch >= 4 * threads)) {
            // Enough products to keep every thread busy on whole products (each packs its own B).
            Parallel.parallelFor(batch, t -> packedInOneThread(call, t));
        } else {
            for (int t = 0; t < batch; t++) {
                packedInParallel(call, t);
            }
        }
    }

    /** C = alpha op(A) op(B) + beta C computed as the transposed product into a scratch [n, m], then copied. */
    private static void tallThinViaTranspose(Call call) {
        int m = call.m;
        int n = call.n;
        float[] tmp = new float[n * m];
        for (int t = 0; t < call.batch; t++) {
            sgemmBatched(call.kernel, 1, !call.transB, !call.transA, n, m, call.k, call.alpha, call.b,
                    call.bOff + t * call.strideB, 0, call.ldb, call.a, call.aOff + t * call.strideA, 0, call.lda, 0f,
                    tmp, 0, 0, m);
            int cBase = call.cOff + t * call.strideC;
            for (int i = 0; i < m; i++) {
                int row = cBase + i * call.ldc;
                for (int j = 0; j < n; j++) {
                    float v = tmp[j * m + i];
                    call.c[row + j] = call.beta == 0f ? v : v + call.beta * call.c[row + j];
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Packed path: drivers

    /** Product t with all threads: B column blocks packed together, then row blocks as parallel tasks. */
    private static void packedInParallel(Call call, int t) {
        int threads = Parallel.threads();
        float[] packedB = SCRATCH.get().packedB(call.packedBSize());
        int rowBlock = call.rowBlock(threads);
        int rowBlocks = ceilDiv(call.m, rowBlock);
        for (int j0 = 0; j0 < call.n; j0 += call.nc) {
            int cols = Math.min(call.nc, call.n - j0);
            int panels = ceilDiv(cols, call.kernel.nr);
            int packTasks = Math.min(threads, panels);
            int col0 = j0;
            Parallel.parallelFor(packTasks, task -> packB(call, t, col0, cols,
                    task * panels / packTasks, (task + 1) * panels / packTasks, packedB));
            Parallel.parallelFor(rowBlocks, blk -> {
                int i0 = blk * rowBlock;
                computeRowBlock(call, t, i0, Math.min(rowBlock, call.m - i0), col0, cols, packedB,
                        SCRATCH.get());
            });
        }
    }

    /** Product t entirely in the calling thread (a task of a batched call, or a small product). */
    private static void packedInOneThread(Call call, int t) {
        Scratch scratch = SCRATCH.get();
        float[] packedB = scratch.packedB(call.packedBSize());
        int rowBlock = call.rowBlock(1);
        for (int j0 = 0; j0 < call.n; j0 += call.nc) {
            int cols = Math.min(call.nc, call.n - j0);
            packB(call, t, j0, cols, 0, ceilDiv(cols, call.kernel.nr), packedB);
            for (int i0 = 0; i0 < call.m; i0 += rowBlock) {
                computeRowBlock(call, t, i0, Math.min(rowBlock, call.m - i0), j0, cols, packedB, scratch);
            }
        }
    }

    /**
     * Rows [i0, i0+rows) x columns [j0, j0+cols) of C for product t, through all K blocks: the C tile stays in
     * this thread's cache while A's block is packed and multiplied with the packed B panels.
     */
    private static void computeRowBlock(Call call, int t, int i0, int rows, int j0, int cols, float[] packedB,
                                        Scratch scratch) {
        int mr = call.kernel.mr;
        int nr = call.kernel.nr;
        float[] packedA = scratch.packedA(roundUp(rows, mr) * call.kc);
        float[] tile = scratch.tile(mr * nr);
        int panels = ceilDiv(cols, nr);
        int cBase = call.cOff + t * call.strideC + i0 * call.ldc + j0;
        for (int q = 0; q < call.kBlocks; q++) {
            int p0 = q * call.kc;
            int kq = Math.min(call.kc, call.k - p0);
            packA(call, t, i0, rows, p0, kq, packedA, scratch);
            float beta = q == 0 ? call.beta : 1f;
            boolean direct = call.alpha == 1f && (beta == 0f || beta == 1f);
            int bBlock = p0 * panels * nr;
            // Each B panel (kq x nr, L1-sized) is reused by every A panel of the block before moving on.
            for (int jp = 0; jp < panels; jp++) {
                int w = Math.min(nr, cols - jp * nr);
                for (int ip = 0; ip * mr < rows; ip++) {
                    int h = Math.min(mr, rows - ip * mr);
                    int ci = cBase + ip * mr * call.ldc + jp * nr;
                    int ai = ip * kq * mr;
                    int bi = bBlock + jp * kq * nr;
                    if (!direct) {
                        call.kernel.kernel(packedA, ai, packedB, bi, kq, tile, 0, nr, false);
                        storeTile(tile, mr, nr, h, w, call.c, ci, call.ldc, call.alpha, beta);
                    } else if (h == mr && w == nr) {
                        call.kernel.kernel(packedA, ai, packedB, bi, kq, call.c, ci, call.ldc, beta != 0f);
                    } else {
                        if (beta != 0f) {
                            copyWindow(call.c, ci, call.ldc, tile, 0, nr, h, w);
                        }
                        call.kernel.kernel(packedA, ai, packedB, bi, kq, tile, 0, nr, beta != 0f);
                        copyWindow(tile, 0, nr, call.c, ci, call.ldc, h, w);
                    }
                }
            }
        }
    }

    /**
     * C[r][j] = alpha * tile[r][j] + beta * C[r][j] for the top-left h x w corner of an mr x nr tile (row stride
     * nr): whole vectors where they fit, element by element (same operations, same rounding) on the edges.
     */
    private static void storeTile(float[] tile, int mr, int nr, int h, int w, float[] c, int cIdx, int ldc,
                                  float alpha, float beta) {
        int vw = w == nr && nr % V == 0 ? w : 0;
        for (int r = 0; r < h; r++) {
            for (int v = 0; v < vw; v += V) {
                store(FloatVector.fromArray(S, tile, r * nr + v), c, cIdx + r * ldc + v, alpha, beta);
            }
            for (int j = vw; j < w; j++) {
                int ci = cIdx + r * ldc + j;
                c[ci] = combine(tile[r * nr + j], c[ci], alpha, beta);
            }
        }
    }

    /** dst[d + r*ldd + j] = src[s + r*lds + j] for r < h, j < w. */
    private static void copyWindow(float[] src, int s, int lds, float[] dst, int d, int ldd, int h, int w) {
        for (int r = 0; r < h; r++) {
            System.arraycopy(src, s + r * lds, dst, d + r * ldd, w);
        }
    }

    /** c[i..i+V) = alpha * acc + beta * c[i..i+V), computed as fma(acc, alpha, beta * c); beta == 0 skips C. */
    private static void store(FloatVector acc, float[] c, int i, float alpha, float beta) {
        if (beta == 0f) {
            acc.mul(alpha).intoArray(c, i);
        } else {
            FloatVector old = FloatVector.fromArray(S, c, i);
            if (beta != 1f) {
                old = old.mul(beta);
            }
            acc.fma(FloatVector.broadcast(S, alpha), old).intoArray(c, i);
        }
    }

    /** Scalar twin of {@link #store} for one element: the same operations, so the same rounding. */
    private static float combine(float acc, float old, float alpha, float beta) {
        if (beta == 0f) {
            return acc * alpha;
        }
        return Math.fma(acc, alpha, beta == 1f ? old : old * beta);
    }

    // ---------------------------------------------------------------------------------------------------
    // Packed path: packing

    /**
     * Packs panels [panelFrom, panelTo) of columns [j0, j0+cols) of op(B), all K blocks, into dst: K block q
     * starts at p0 * panels * nr, and inside it panel jp holds kq rows of nr floats (zero-padded).
     */
    private static void packB(Call call, int t, int j0, int cols, int panelFrom, int panelTo, float[] dst) {
        int nr = call.kernel.nr;
        int panels = ceilDiv(cols, nr);
        int bBase = call.bOff + t * call.strideB;
        Scratch scratch = SCRATCH.get();
        for (int q = 0; q < call.kBlocks; q++) {
            int p0 = q * call.kc;
            int kq = Math.min(call.kc, call.k - p0);
            for (int jp = panelFrom; jp < panelTo; jp++) {
                int d = p0 * panels * nr + jp * kq * nr;
                int j = j0 + jp * nr;
                int w = Math.min(nr, cols - jp * nr);
                if (call.transB) {
                    packPanelTransposed(call.b, bBase + j * call.ldb + p0, call.ldb, kq, w, nr, dst, d, scratch);
                } else {
                    packPanel(call.b, bBase + p0 * call.ldb + j, call.ldb, kq, w, nr, dst, d);
                }
            }
        }
    }

    /** Packs rows [i0, i0+rows) x K range [p0, p0+kq) of op(A) into panels of mr rows (mr floats per k). */
    private static void packA(Call call, int t, int i0, int rows, int p0, int kq, float[] dst, Scratch scratch) {
        int mr = call.kernel.mr;
        int aBase = call.aOff + t * call.strideA;
        for (int ip = 0; ip * mr < rows; ip++) {
            int i = i0 + ip * mr;
            int h = Math.min(mr, rows - ip * mr);
            int d = ip * kq * mr;
            if (call.transA) {
                packPanel(call.a, aBase + p0 * call.lda + i, call.lda, kq, h, mr, dst, d);
            } else {
                packPanelTransposed(call.a, aBase + i * call.lda + p0, call.lda, kq, h, mr, dst, d, scratch);
            }
        }
    }

    /**
     * Panel from a source whose k-th row holds the panel's w columns contiguously (src + p*ld + j):
     * dst[d + p*width + j] for j < w, zeros for w <= j < width.
     */
    private static void packPanel(float[] src, int s, int ld, int kq, int w, int width, float[] dst, int d) {
        for (int p = 0; p < kq; p++) {
            int row = d + p * width;
            System.arraycopy(src, s + p * ld, dst, row, w);
            if (w < width) {
                java.util.Arrays.fill(dst, row + w, row + width, 0f);
            }
        }
    }

    /**
     * Panel from a source whose j-th row holds column j of the panel along k (src + j*ld + p):
     * dst[d + p*width + j] for j < w, zeros for w <= j < width. Each k step gathers V columns at once (one gather
     * instruction, measured about 2-3x faster than element-by-element copies, which write width floats apart).
     * The gathers are never masked: a masked gather has no AVX2 instruction, and the Vector API then falls back to
     * lane-by-lane Java (measured 4x slower GEMMs on an AVX2 JVM); lanes past w read column c (in range) and are
     * zeroed by a blend instead.
     */
    private static void packPanelTransposed(float[] src, int s, int ld, int kq, int w, int width, float[] dst,
                                            int d, Scratch scratch) {
        for (int c = 0; c < width; c += V) {
            int lanes = Math.max(0, Math.min(V, w - c));
            VectorMask<Float> store = S.indexInRange(c, width);
            if (lanes == 0) {
                for (int p = 0; p < kq; p++) {
                    FloatVector.zero(S).intoArray(dst, d + p * width + c, store);
                }
                continue;
            }
            int from = s + c * ld;
            int[] map = scratch.gatherMap(ld, lanes);
            if (lanes == V) {
                // c + V <= w <= width: every lane is loaded and stored
                for (int p = 0; p < kq; p++) {
                    FloatVector.fromArray(S, src, from + p, map, 0).intoArray(dst, d + p * width + c);
                }
            } else {
                VectorMask<Float> keep = S.indexInRange(0, lanes);
                FloatVector zero = FloatVector.zero(S);
                for (int p = 0; p < kq; p++) {
                    FloatVector v = zero.blend(FloatVector.fromArray(S, src, from + p, map, 0), keep);
                    if (store.allTrue()) {
                        v.intoArray(dst, d + p * width + c);
                    } else {
                        v.intoArray(dst, d + p * width + c, store);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Skinny path (m <= SKINNY_M): B read in place

    /** Splits every product's columns into ranges and runs them as tasks. */
    private static void skinny(Call call, boolean small) {
        int threads = Parallel.threads();
        int ranges = small ? 1 : Math.max(1, Math.min(2 * threads, call.n / SK_NR));
        int width = roundUp(ceilDiv(call.n, ranges), SK_NR);
        int perProduct = ceilDiv(call.n, width);
        if (call.transB) {
            Parallel.parallelFor(call.batch * perProduct, task -> {
                int t = task / perProduct;
                int j0 = task % perProduct * width;
                skinnyDots(call, t, j0, Math.min(call.n, j0 + width), SCRATCH.get());
            });
        } else {
            Parallel.parallelFor(call.batch * perProduct, task -> {
                int t = task / perProduct;
                int j0 = task % perProduct * width;
                skinnyRows(call, t, j0, Math.min(call.n, j0 + width), SCRATCH.get());
            });
        }
    }

    /** Columns [j0, j1) of product t without transB: SK_MR x SK_NR tiles that walk B's rows in place. */
    private static void skinnyRows(Call call, int t, int j0, int j1, Scratch scratch) {
        int aBase = call.aOff + t * call.strideA;
        int rowStep = call.transA ? 1 : call.lda;
        int kStep = call.transA ? call.lda : 1;
        int bBase = call.bOff + t * call.strideB;
        int cBase = call.cOff + t * call.strideC;
        float[] tile = scratch.tile(SK_MR * SK_NR);
        for (int j = j0; j < j1; j += SK_NR) {
            int w = Math.min(SK_NR, j1 - j);
            for (int i = 0; i < call.m; i += SK_MR) {
                int h = Math.min(SK_MR, call.m - i);
                // Rows past m repeat the last row (their results are not stored), so the kernel is always 3 rows.
                int a0 = aBase + i * rowStep;
                int a1 = aBase + Math.min(i + 1, call.m - 1) * rowStep;
                int a2 = aBase + Math.min(i + 2, call.m - 1) * rowStep;
                if (w == SK_NR) {
                    rowsKernel(call.a, a0, a1, a2, kStep, call.b, bBase + j, call.ldb, call.k, tile);
                } else {
                    rowsKernelMasked(call.a, a0, a1, a2, kStep, call.b, bBase + j, call.ldb, call.k, w, tile);
                }
                storeTile(tile, SK_MR, SK_NR, h, w, call.c, cBase + i * call.ldc + j, call.ldc, call.alpha, call.beta);
            }
        }
    }

    /**
     * The skinny twin of {@link #kernel}: A rows a0..a2 (element p at a_r + p*kStep) times B rows read in place
     * (row p at bIdx + p*ldb) into tile.
     */
    private static void rowsKernel(float[] a, int a0, int a1, int a2, int kStep, float[] b, int bIdx, int ldb,
                                   int k, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S);
        for (int p = 0; p < k; p++) {
            int ib = bIdx + p * ldb;
            int ia = p * kStep;
            FloatVector b0 = FloatVector.fromArray(S, b, ib);
            FloatVector b1 = FloatVector.fromArray(S, b, ib + V);
            FloatVector b2 = FloatVector.fromArray(S, b, ib + 2 * V);
            FloatVector v0 = FloatVector.broadcast(S, a[a0 + ia]);
            c00 = v0.fma(b0, c00);
            c01 = v0.fma(b1, c01);
            c02 = v0.fma(b2, c02);
            FloatVector v1 = FloatVector.broadcast(S, a[a1 + ia]);
            c10 = v1.fma(b0, c10);
            c11 = v1.fma(b1, c11);
            c12 = v1.fma(b2, c12);
            FloatVector v2 = FloatVector.broadcast(S, a[a2 + ia]);
            c20 = v2.fma(b0, c20);
            c21 = v2.fma(b1, c21);
            c22 = v2.fma(b2, c22);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, V);
        c02.intoArray(tile, 2 * V);
        c10.intoArray(tile, SK_NR);
        c11.intoArray(tile, SK_NR + V);
        c12.intoArray(tile, SK_NR + 2 * V);
        c20.intoArray(tile, 2 * SK_NR);
        c21.intoArray(tile, 2 * SK_NR + V);
        c22.intoArray(tile, 2 * SK_NR + 2 * V);
    }

    /**
     * {@link #rowsKernel} for the last, narrower column range of width w: B's lanes past w are not read (masked
     * loads); the tile's lanes past w are left zero.
     */
    private static void rowsKernelMasked(float[] a, int a0, int a1, int a2, int kStep, float[] b, int bIdx,
                                         int ldb, int k, int w, float[] tile) {
        VectorMask<Float> m0 = S.indexInRange(0, w);
        VectorMask<Float> m1 = S.indexInRange(V, w);
        VectorMask<Float> m2 = S.indexInRange(2 * V, w);
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S);
        for (int p = 0; p < k; p++) {
            int ib = bIdx + p * ldb;
            int ia = p * kStep;
            FloatVector b0 = FloatVector.fromArray(S, b, ib, m0);
            FloatVector b1 = FloatVector.fromArray(S, b, ib + V, m1);
            FloatVector b2 = FloatVector.fromArray(S, b, ib + 2 * V, m2);
            FloatVector v0 = FloatVector.broadcast(S, a[a0 + ia]);
            c00 = v0.fma(b0, c00);
            c01 = v0.fma(b1, c01);
            c02 = v0.fma(b2, c02);
            FloatVector v1 = FloatVector.broadcast(S, a[a1 + ia]);
            c10 = v1.fma(b0, c10);
            c11 = v1.fma(b1, c11);
            c12 = v1.fma(b2, c12);
            FloatVector v2 = FloatVector.broadcast(S, a[a2 + ia]);
            c20 = v2.fma(b0, c20);
            c21 = v2.fma(b1, c21);
            c22 = v2.fma(b2, c22);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, V);
        c02.intoArray(tile, 2 * V);
        c10.intoArray(tile, SK_NR);
        c11.intoArray(tile, SK_NR + V);
        c12.intoArray(tile, SK_NR + 2 * V);
        c20.intoArray(tile, 2 * SK_NR);
        c21.intoArray(tile, 2 * SK_NR + V);
        c22.intoArray(tile, 2 * SK_NR + 2 * V);
    }

    /**
     * Columns [j0, j1) of product t with transB: C[i][j] is the dot product of A's row i and B's row j, both
     * contiguous along k (A is first copied into rows when transA).
     */
    private static void skinnyDots(Call call, int t, int j0, int j1, Scratch scratch) {
        float[] a;
        int aBase;
        int lda;
        if (call.transA) {
            a = scratch.packedA(call.m * call.k);
            copyTransposed(call.a, call.aOff + t * call.strideA, call.lda, call.m, call.k, a);
            aBase = 0;
            lda = call.k;
        } else {
            a = call.a;
            aBase = call.aOff + t * call.strideA;
            lda = call.lda;
        }
        int bBase = call.bOff + t * call.strideB;
        int cBase = call.cOff + t * call.strideC;
        float[] dots = scratch.tile(8);
        for (int j = j0; j < j1; j += 4) {
            int w = Math.min(4, j1 - j);
            int b0 = bBase + j * call.ldb;
            int b1 = bBase + Math.min(j + 1, j1 - 1) * call.ldb;
            int b2 = bBase + Math.min(j + 2, j1 - 1) * call.ldb;
            int b3 = bBase + Math.min(j + 3, j1 - 1) * call.ldb;
            for (int i = 0; i < call.m; i += 2) {
                int h = Math.min(2, call.m - i);
                int r0 = aBase + i * lda;
                int r1 = aBase + Math.min(i + 1, call.m - 1) * lda;
                Dots.dots2x4(a, r0, r1, call.b, b0, b1, b2, b3, call.k, dots, scratch.lanes);
                for (int r = 0; r < h; r++) {
                    for (int jj = 0; jj < w; jj++) {
                        int ci = cBase + (i + r) * call.ldc + j + jj;
                        call.c[ci] = combine(dots[4 * r + jj], call.c[ci], call.alpha, call.beta);
                    }
                }
            }
        }
    }

    /** dst[i*k + p] = op(A)[i][p] for a transposed A (stored k x m with row stride lda). */
    private static void copyTransposed(float[] a, int aBase, int lda, int m, int k, float[] dst) {
        for (int p = 0; p < k; p++) {
            for (int i = 0; i < m; i++) {
                dst[i * k + p] = a[aBase + p * lda + i];
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Helpers

    /** C = beta * C for product t (k == 0 or alpha == 0); beta == 0 writes zeros without reading C. */
    private static void scaleC(Call call, int t) {
        int base = call.cOff + t * call.strideC;
        for (int i = 0; i < call.m; i++) {
            int row = base + i * call.ldc;
            for (int j = 0; j < call.n; j++) {
                call.c[row + j] = call.beta == 0f ? 0f : call.beta * call.c[row + j];
            }
        }
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int multiple) {
        return ceilDiv(x, multiple) * multiple;
    }

    /** Per-thread buffers, grown on demand and reused across calls. */
    private static final class Scratch {
        float[] packedA = new float[0];
        float[] packedB = new float[0];
        float[] tile = new float[0];
        final float[] lanes = new float[V];

        float[] packedA(int size) {
            if (packedA.length < size) {
                packedA = new float[size];
            }
            return packedA;
        }

        final int[] gatherMap = new int[V];
        int gatherStride = -1;
        int gatherLanes = -1;

        /** {0, ld, 2 ld, ...} for the first {@code lanes} lanes, 0 after: the gather offsets of rows ld apart. */
        int[] gatherMap(int ld, int lanes) {
            if (gatherStride != ld || gatherLanes != lanes) {
                for (int i = 0; i < V; i++) {
                    gatherMap[i] = i < lanes ? i * ld : 0;
                }
                gatherStride = ld;
                gatherLanes = lanes;
            }
            return gatherMap;
        }

        float[] tile(int size) {
            if (tile.length < size) {
                tile = new float[size];
            }
            return tile;
        }

        float[] packedB(int size) {
            if (packedB.length < size) {
                packedB = new float[size];
            }
            return packedB;
        }
    }

    /** The arguments of one call, its K blocking and its column block width. */
    private static final class Call {
        final MicroKernel kernel;
        final int batch;
        final boolean transA;
        final boolean transB;
        final int m;
        final int n;
        final int k;
        final float alpha;
        final float[] a;
        final int aOff;
        final int strideA;
        final int lda;
        final float[] b;
        final int bOff;
        final int strideB;
        final int ldb;
        final float beta;
        final float[] c;
        final int cOff;
        final int strideC;
        final int ldc;
        /** Number of K blocks and their size (the last one may be shorter): a function of k only. */
        final int kBlocks;
        final int kc;
        /** Column block width: NC, narrowed so the packed k x nc block of B stays under B_BLOCK_FLOATS. */
        final int nc;

        Call(MicroKernel kernel, int batch, boolean transA, boolean transB, int m, int n, int k, float alpha,
             float[] a, int aOff, int strideA, int lda, float[] b, int bOff, int strideB, int ldb, float beta,
             float[] c, int cOff, int strideC, int ldc) {
            this.kernel = kernel;
            this.batch = batch;
            this.transA = transA;
            this.transB = transB;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.a = a;
            this.aOff = aOff;
            this.strideA = strideA;
            this.lda = lda;
            this.b = b;
            this.bOff = bOff;
            this.strideB = strideB;
            this.ldb = ldb;
            this.beta = beta;
            this.c = c;
            this.cOff = cOff;
            this.strideC = strideC;
            this.ldc = ldc;
            int nr = kernel.nr;
            this.kBlocks = Math.max(1, ceilDiv(k, kernel.kcMax));
            this.kc = Math.max(1, ceilDiv(k, kBlocks));
            int widest = Math.min(roundUp(NC, nr), Math.max(nr, B_BLOCK_FLOATS / Math.max(1, k) / nr * nr));
            int columnBlocks = Math.max(1, ceilDiv(n, widest));
            this.nc = roundUp(Math.max(1, ceilDiv(n, columnBlocks)), nr);
        }

        /** Floats in the packed k x nc block of B (panels zero-padded to nr columns). */
        int packedBSize() {
            return k * roundUp(nc, kernel.nr);
        }

        /** Row block height for {@code threads} threads: at most MC, a multiple of mr, blocks of even size. */
        int rowBlock(int threads) {
            int blocks = ceilDiv(m, MC);
            if (threads > 1) {
                blocks = Math.min(roundUp(blocks, threads), ceilDiv(m, kernel.mr));
            }
            return roundUp(ceilDiv(m, blocks), kernel.mr);
        }

        void validate() {
            if (batch < 0 || m < 0 || n < 0 || k < 0) {
                throw new IllegalArgumentException("sgemm: negative size: batch " + batch + ", m " + m + ", n "
                        + n + ", k " + k);
            }
            checkMatrix("A", a, aOff, strideA, lda, transA, m, k, "m", "k");
            checkMatrix("B", b, bOff, strideB, ldb, transB, k, n, "k", "n");
            checkMatrix("C", c, cOff, strideC, ldc, false, m, n, "m", "n");
            if (batch > 1 && m > 0 && n > 0 && strideC < (long) (m - 1) * ldc + n) {
                throw new IllegalArgumentException("sgemm: strideC " + strideC + " < " + ((long) (m - 1) * ldc + n)
                        + ": the " + batch + " matrices C (" + m + "x" + n + ", ldc " + ldc + ") would overlap");
            }
        }

        /**
         * Checks one operand whose op() is rows x cols: stored rows x cols (or cols x rows when transposed)
         * with row stride ld, batch copies stride apart, all inside the array.
         */
        private void checkMatrix(String name, float[] x, int off, int stride, int ld, boolean trans, int rows,
                                 int cols, String rowsName, String colsName) {
            int storedRows = trans ? cols : rows;
            int storedCols = trans ? rows : cols;
            String widthName = trans ? rowsName : colsName;
            String ldName = "ld" + name.toLowerCase(java.util.Locale.ROOT);
            String shape = (name.equals("C") ? "" : trans ? "transposed, " : "not transposed, ") + storedRows + "x"
                    + storedCols;
            if (ld < storedCols) {
                throw new IllegalArgumentException("sgemm: " + ldName + " " + ld + " < " + widthName + " "
                        + storedCols + " for " + name + " (" + shape + ")");
            }
            if (off < 0 || stride < 0) {
                throw new IllegalArgumentException("sgemm: negative offset " + off + " or stride " + stride
                        + " for " + name);
            }
            if (batch == 0 || storedRows == 0 || storedCols == 0) {
                return;
            }
            if (x == null) {
                throw new IllegalArgumentException("sgemm: array " + name + " is null (" + shape + ")");
            }
            long end = off + (long) (batch - 1) * stride + (long) (storedRows - 1) * ld + storedCols;
            if (end > x.length) {
                throw new IllegalArgumentException("sgemm: array " + name + " too short: length " + x.length
                        + " < " + end + " needed (" + shape + ", " + ldName + " " + ld + ", offset " + off
                        + (batch > 1 ? ", " + batch + " matrices stride " + stride : "") + ")");
            }
        }
    }
}
