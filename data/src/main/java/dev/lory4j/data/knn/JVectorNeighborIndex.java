package dev.lory4j.data.knn;

import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.tensor.kernels.Parallel;
import io.github.jbellis.jvector.graph.GraphIndexBuilder;
import io.github.jbellis.jvector.graph.GraphSearcher;
import io.github.jbellis.jvector.graph.ImmutableGraphIndex;
import io.github.jbellis.jvector.graph.ListRandomAccessVectorValues;
import io.github.jbellis.jvector.graph.RandomAccessVectorValues;
import io.github.jbellis.jvector.graph.SearchResult;
import io.github.jbellis.jvector.graph.similarity.BuildScoreProvider;
import io.github.jbellis.jvector.graph.similarity.DefaultSearchScoreProvider;
import io.github.jbellis.jvector.util.Bits;
import io.github.jbellis.jvector.vector.VectorSimilarityFunction;
import io.github.jbellis.jvector.vector.VectorizationProvider;
import io.github.jbellis.jvector.vector.types.VectorFloat;
import io.github.jbellis.jvector.vector.types.VectorTypeSupport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;

/**
 * Approximate all-pairs kNN with jvector (a DiskANN/HNSW-style graph index, pure Java, Apache-2.0): build
 * the graph over all rows with dot-product similarity, then search each row for its {@code k + 1} nearest
 * and drop the row itself. Similarities are recomputed exactly with {@link DotKernel} so they are true
 * cosines, and ties are ordered by id as in the exact index. Parameters: graph degree M (16), build beam
 * width (100), search beam width ({@code max(2k, 40)}).
 */
public final class JVectorNeighborIndex implements NeighborIndex {
    private final int degree;
    private final int beamWidth;
    private final int searchBeam;
    private volatile double lastBuildSeconds;

    /**
     * An index.
     *
     * @param degree     maximum out-degree of the graph (M)
     * @param beamWidth  beam width while building
     * @param searchBeam beam width of each search (0: {@code max(2k, 40)})
     */
    public JVectorNeighborIndex(int degree, int beamWidth, int searchBeam) {
        if (degree < 2 || beamWidth < 1 || searchBeam < 0) {
            throw new IllegalArgumentException("JVectorNeighborIndex: degree " + degree + ", beamWidth " + beamWidth
                    + ", searchBeam " + searchBeam + " (need degree >= 2, beamWidth >= 1, searchBeam >= 0)");
        }
        if (!available()) {
            throw new IllegalStateException("JVectorNeighborIndex needs jvector on the class path: add the dependency "
                    + "io.github.jbellis:jvector:4.0.0-rc.5 (optional in lory4j-data), or use NeighborIndex.auto()");
        }
        this.degree = degree;
        this.beamWidth = beamWidth;
        this.searchBeam = searchBeam;
    }

    /** Whether jvector is on the class path (it is an optional dependency of lory4j-data). */
    public static boolean available() {
        try {
            Class.forName("io.github.jbellis.jvector.graph.GraphIndexBuilder", false,
                    JVectorNeighborIndex.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** M = 16, build beam 100, search beam max(2k, 40). */
    public JVectorNeighborIndex() {
        this(16, 100, 0);
    }

    @Override
    public KnnGraph nearest(Embeddings v, int k) {
        if (k <= 0) {
            throw new IllegalArgumentException("JVectorNeighborIndex.nearest: k " + k + " must be positive");
        }
        int n = v.count();
        int dim = v.dim();
        if (n <= 1) {
            return new ExactNeighborIndex().nearest(v, k);
        }
        VectorTypeSupport vts = VectorizationProvider.getInstance().getVectorTypeSupport();
        List<VectorFloat<?>> rows = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            rows.add(vts.createFloatVector(v.row(i)));
        }
        RandomAccessVectorValues ravv = new ListRandomAccessVectorValues(rows, dim);
        VectorSimilarityFunction dot = VectorSimilarityFunction.DOT_PRODUCT;
        BuildScoreProvider bsp = BuildScoreProvider.randomAccessScoreProvider(ravv, dot);
        ForkJoinPool pool = new ForkJoinPool(Parallel.threads());
        int[] ids = new int[n * k];
        float[] sims = new float[n * k];
        try (GraphIndexBuilder builder = new GraphIndexBuilder(bsp, dim, degree, beamWidth, 1.2f, 1.2f, false, false,
                pool, pool)) {
            long tb = System.nanoTime();
            ImmutableGraphIndex graph = builder.build(ravv);
            lastBuildSeconds = (System.nanoTime() - tb) / 1e9;
            int beam = searchBeam > 0 ? Math.max(searchBeam, k + 1) : Math.max(2 * k, 40);
            int chunk = 256;
            int tasks = (n + chunk - 1) / chunk;
            pool.submit(() -> java.util.stream.IntStream.range(0, tasks).parallel().forEach(t -> {
                try (GraphSearcher searcher = new GraphSearcher(graph)) {
                    KnnGraph.TopK top = new KnnGraph.TopK(k);
                    for (int i = t * chunk, e = Math.min(n, i + chunk); i < e; i++) {
                        var ssp = DefaultSearchScoreProvider.exact(rows.get(i), dot, ravv);
                        SearchResult r = searcher.search(ssp, k + 1, beam, 0f, 0f, Bits.ALL);
                        for (SearchResult.NodeScore ns : r.getNodes()) {
                            if (ns.node != i) {
                                top.offer(ns.node, DotKernel.dot(v.data(), i * dim, v.data(), ns.node * dim, dim));
                            }
                        }
                        top.drainInto(ids, sims, i * k);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("JVectorNeighborIndex: searcher close failed", e);
                }
            })).join();
        } catch (IOException e) {
            throw new UncheckedIOException("JVectorNeighborIndex: graph build failed for " + n + " x " + dim, e);
        } finally {
            pool.shutdown();
        }
        return new KnnGraph(n, k, ids, sims);
    }

    /** Seconds the latest {@link #nearest} spent building the graph (the rest is searching). */
    public double lastBuildSeconds() {
        return lastBuildSeconds;
    }

    @Override
    public String describe() {
        return "jvector (M=" + degree + ", build beam " + beamWidth + ", search beam "
                + (searchBeam > 0 ? searchBeam : "max(2k,40)") + ")";
    }
}
