package dev.lory4j.bench.data;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.batch.IcpTraversal;
import dev.lory4j.data.batch.NearDuplicateFilter;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.data.batch.SimilarityGraph;
import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.data.knn.DotKernel;
import dev.lory4j.data.knn.ExactNeighborIndex;
import dev.lory4j.data.knn.IvfNeighborIndex;
import dev.lory4j.data.knn.JVectorNeighborIndex;
import dev.lory4j.data.knn.KnnGraph;
import dev.lory4j.data.knn.NeighborIndex;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.kernels.Parallel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * End-to-end scale benchmark of similarity batching: embed, kNN, graph + traversal, near-duplicate filter
 * and packing on N documents, for each N of {@code --sizes}. Documents are chunks of about
 * {@code --chunk} characters of a corpus (cut at whitespace), N of them drawn at random (seeded); recall of
 * the kNN graph is measured on {@code --recall-sample} random rows against brute force.
 *
 * <pre>java --add-modules jdk.incubator.vector -Xmx8g -cp ... dev.lory4j.bench.data.PipelineBench \
 *     --corpus /tmp/lory4j-large/corpus.jsonl.gz --sizes 10000,30000,100000</pre>
 */
public final class PipelineBench {
    private static final String USAGE = "PipelineBench [--corpus bundled|PATH] [--sizes 10000,30000,100000] "
            + "[--chunk 500] [--k 10] [--dim 256] [--index auto|exact|ivf|jvector] [--ivf-probes 24] [--jv-degree 16] [--jv-beam 100] [--exact-limit 20000] "
            + "[--seq-len 2048] [--recall-sample 1000] [--seed 1]   (threads: -Dlory4j.threads=N)";

    private PipelineBench() {
    }

    /** Runs the benchmark (see the class comment for the arguments). */
    public static void main(String[] argv) {
        Args a = new Args(argv, USAGE, java.util.Set.of("chunk", "corpus", "dim", "exact-limit", "index", "ivf-lists",
                "ivf-probes", "jv-beam", "jv-degree", "jv-search-beam", "k", "recall-sample", "seed", "seq-len", "sizes"));
        String src = a.get("corpus", "bundled");
        int chunkChars = a.getInt("chunk", 500);
        int k = a.getInt("k", 10);
        int dim = a.getInt("dim", 256);
        int seqLen = a.getInt("seq-len", 2048);
        int recallSample = a.getInt("recall-sample", 1000);
        long seed = a.getInt("seed", 1);
        String indexName = a.get("index", "auto");
        int exactLimit = a.getInt("exact-limit", 20_000);
        NeighborIndex index = switch (indexName) {
            case "auto" -> NeighborIndex.auto(exactLimit);
            case "exact" -> new ExactNeighborIndex();
            case "ivf" -> new IvfNeighborIndex(a.getInt("ivf-lists", 0), a.getInt("ivf-probes", 24), 6, 1);
            case "jvector" -> new JVectorNeighborIndex(a.getInt("jv-degree", 16), a.getInt("jv-beam", 100),
                    a.getInt("jv-search-beam", 0));
            default -> throw new IllegalArgumentException("--index must be auto, exact, ivf or jvector, got " + indexName);
        };
        Corpus corpus = src.equals("bundled") ? Corpus.bundled() : Corpus.open(Path.of(src));

        long t0 = System.nanoTime();
        List<Document> chunks = new ArrayList<>();
        for (Document d : corpus) {
            String t = d.text();
            int part = 0;
            for (int i = 0; i < t.length(); ) {
                int end = Math.min(t.length(), i + chunkChars);
                while (end < t.length() && end < i + 2 * chunkChars && !Character.isWhitespace(t.charAt(end))) {
                    end++;
                }
                if (end - i >= chunkChars / 4) {
                    chunks.add(new Document(d.id() + "@" + part++, d.domain(), t.substring(i, end), d.split()));
                }
                i = end;
            }
        }
        System.out.printf(Locale.ROOT, "corpus %s: %d chunks of ~%d chars in %.1f s; %d threads; index %s; k %d; dim %d%n",
                corpus.name(), chunks.size(), chunkChars, (System.nanoTime() - t0) / 1e9, Parallel.threads(),
                index.describe(), k, dim);
        System.out.println("| documents | text MB | embed s | kNN s | graph+traversal s | dedup s | pack s | total s "
                + "| peak heap MB | recall@" + k + " | adjacent cos (sim / random) | purity (sim / random) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (String s : a.get("sizes", "10000,30000,100000").split(",")) {
            int n = Integer.parseInt(s.trim());
            if (n > chunks.size()) {
                System.out.println("| " + n + " | (only " + chunks.size() + " chunks available; use a larger corpus "
                        + "or a smaller --chunk) |");
                continue;
            }
            int[] pick = new int[chunks.size()];
            for (int i = 0; i < pick.length; i++) {
                pick[i] = i;
            }
            new Rng(seed).shuffle(pick);
            List<Document> docs = new ArrayList<>(n);
            long chars = 0;
            for (int i = 0; i < n; i++) {
                Document d = chunks.get(pick[i]);
                docs.add(d);
                chars += d.text().length();
            }
            run(docs, chars, index, k, dim, seqLen, recallSample, seed);
        }
    }

    private static void run(List<Document> docs, long chars, NeighborIndex index, int k, int dim, int seqLen,
                            int recallSample, long seed) {
        System.gc();
        HeapWatch heap = new HeapWatch();
        long t0 = System.nanoTime();
        Embeddings e = new HashedTfIdfEmbedder(18, dim, 42, 0).embed(docs.stream().map(Document::text).toList());
        long t1 = System.nanoTime();
        KnnGraph knn = index.nearest(e, k);
        long t2 = System.nanoTime();
        if (index instanceof JVectorNeighborIndex jv) {
            System.out.printf(Locale.ROOT, "(jvector build %.2f s of the kNN time)%n", jv.lastBuildSeconds());
        }
        IcpTraversal.Path path = IcpTraversal.traverse(SimilarityGraph.fromKnn(knn));
        long t3 = System.nanoTime();
        NearDuplicateFilter.Result kept = NearDuplicateFilter.defaults().filter(path.path(),
                docs.stream().map(Document::text).toList());
        long t4 = System.nanoTime();
        Packer packer = new Packer(new ByteTokenizer(), seqLen);
        PackedSequences packed = packer.pack(docs, kept.kept());
        long t5 = System.nanoTime();
        long peak = heap.stop();
        double recall = recall(e, knn, recallSample, seed);
        PackedSequences random = packer.packRandom(docs, seed);
        var rows = PackingMetrics.rowsById(docs.stream().map(Document::id).toList());
        PackingMetrics ms = PackingMetrics.measure(packed, e, rows);
        PackingMetrics mr = PackingMetrics.measure(random, e, rows);
        System.out.printf(Locale.ROOT, "| %d | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** | %d | %.3f | %.3f / %.3f | %.3f / %.3f |%n",
                docs.size(), chars / 1e6, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9, (t4 - t3) / 1e9,
                (t5 - t4) / 1e9, (t5 - t0) / 1e9, peak >> 20, recall, ms.meanAdjacentCosine(), mr.meanAdjacentCosine(),
                ms.meanPurity(), mr.meanPurity());
    }

    /** Recall of {@code knn} on a random sample of rows against brute-force search of all rows. */
    static double recall(Embeddings e, KnnGraph knn, int sample, long seed) {
        int n = e.count();
        int m = Math.min(sample, n);
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = i;
        }
        new Rng(seed + 17).shuffle(rows);
        int k = knn.k();
        long[] hits = new long[m];
        Parallel.parallelFor(m, q -> {
            int i = rows[q];
            int[] best = new int[k];
            float[] bs = new float[k];
            java.util.Arrays.fill(best, -1);
            java.util.Arrays.fill(bs, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < n; j++) {
                if (j == i) {
                    continue;
                }
                float s = DotKernel.dot(e.data(), i * e.dim(), e.data(), j * e.dim(), e.dim());
                if (s > bs[k - 1]) {
                    int p = k - 1;
                    while (p > 0 && bs[p - 1] < s) {
                        bs[p] = bs[p - 1];
                        best[p] = best[p - 1];
                        p--;
                    }
                    bs[p] = s;
                    best[p] = j;
                }
            }
            // ties at the k-th similarity make any of the tied ids correct: count by similarity threshold
            float kth = bs[k - 1];
            long h = 0;
            for (int j = 0; j < k; j++) {
                int id = knn.neighbor(i, j);
                if (id >= 0 && knn.similarity(i, j) >= kth - 1e-6f) {
                    h++;
                }
            }
            hits[q] = Math.min(h, k);
        });
        long total = 0;
        for (long h : hits) {
            total += h;
        }
        return total / (double) (m * (long) k);
    }

    /** Samples the used heap every 20 ms and keeps the maximum. */
    static final class HeapWatch {
        private volatile boolean running = true;
        private volatile long peak;
        private final Thread thread;

        HeapWatch() {
            Runtime rt = Runtime.getRuntime();
            thread = Thread.ofPlatform().daemon().start(() -> {
                while (running) {
                    peak = Math.max(peak, rt.totalMemory() - rt.freeMemory());
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        long stop() {
            running = false;
            thread.interrupt();
            Runtime rt = Runtime.getRuntime();
            return Math.max(peak, rt.totalMemory() - rt.freeMemory());
        }
    }
}
