package dev.lory4j.spark;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.data.knn.ExactNeighborIndex;
import dev.lory4j.data.knn.KnnGraph;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.data.batch.SimilarityBatching;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.ml.feature.BucketedRandomProjectionLSH;
import org.apache.spark.ml.feature.BucketedRandomProjectionLSHModel;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The measurement behind the pipeline's kNN method (docs/spark.md): recall@10 against exact search and wall time of
 * the distributed inverted file and of MLlib's LSH similarity join, on the bundled corpus cut into ~1,500-character
 * passages, on two executor processes; and the pipeline at scale. Measurements, not tests: run them with
 * {@code mvn -pl spark -am test -Dtest=AnnChoiceMeasurement -Dlory4j.measure=true -Dsurefire.failIfNoSpecifiedTests=false}
 * and {@code -Dtest='AnnChoiceMeasurement#pipelineAtScale' -Dlory4j.measure.corpus=FILE.jsonl}.
 */
class AnnChoiceMeasurement {
    @TempDir
    Path tmp;

    @Test
    @EnabledIfSystemProperty(named = "lory4j.measure", matches = "true")
    void ivfVersusLsh() throws Exception {
        PrintStream out = System.out;
        List<String> texts = new ArrayList<>();
        Path jsonl = tmp.resolve("passages.jsonl");
        StringBuilder sb = new StringBuilder();
        for (Document d : Corpus.bundled().load()) {
            String t = d.text();
            for (int i = 0; i + 200 < t.length(); i += 1500) {
                String p = t.substring(i, Math.min(t.length(), i + 1500));
                sb.append(Json.write(Map.of("id", "p" + texts.size(), "domain", d.domain(), "split", "train",
                        "text", p))).append('\n');
                texts.add(p);
            }
        }
        Files.writeString(jsonl, sb.toString(), StandardCharsets.UTF_8);
        int n = texts.size();
        int k = 10;
        Embeddings e = new HashedTfIdfEmbedder().embed(texts);
        long t0 = System.nanoTime();
        KnnGraph exact = new ExactNeighborIndex().nearest(e, k);
        out.printf(Locale.ROOT, "%d passages; exact kNN on one machine (2 threads): %.1f s%n", n,
                (System.nanoTime() - t0) / 1e9);
        Path tok = tmp.resolve("byte.json");
        new ByteTokenizer().save(tok);
        byte[] tokJson = Files.readAllBytes(tok);
        try (SparkSession spark = Sessions.start("ann-choice", null, 2, 1536)) {
            spark.sparkContext().setLogLevel("WARN");
            out.printf("%-34s %8s %10s%n", "method", "recall", "seconds");
            int run = 0;
            for (int[] lp : new int[][] {{1, 1}, {8, 2}, {8, 4}, {32, 4}, {32, 8}}) {
                SimilarityPipeline.Spec spec = SimilarityPipeline.Spec.defaults(jsonl.toString(),
                        tmp.resolve("ivf" + run++).toString(), tokJson, 257).withIndex(lp[0], lp[1]).collecting();
                SimilarityPipeline.Result r = SimilarityPipeline.run(spark, spec, new PrintStream(
                        java.io.OutputStream.nullOutputStream()));
                int[] ids = new int[n * k];
                Arrays.fill(ids, -1);
                r.neighbors().forEach((i, nb) -> {
                    for (int j = 0; j < nb.length; j++) {
                        ids[(int) (long) i * k + j] = (int) nb[j];
                    }
                });
                double recall = new KnnGraph(n, k, ids, new float[n * k]).recallAgainst(exact);
                out.printf(Locale.ROOT, "%-34s %8.4f %10.1f%n", "inverted file, " + lp[0] + " lists, " + lp[1]
                        + " probes", recall, r.seconds().get("knn"));
            }
            // MLlib: Euclidean LSH on the same unit vectors, similarity join up to the distance that holds the exact
            // 10th neighbour of 90% of the passages, then the k nearest per passage
            float[] kth = new float[n];
            for (int i = 0; i < n; i++) {
                kth[i] = (float) Math.sqrt(Math.max(0, 2 - 2 * exact.similarity(i, k - 1)));
            }
            float[] sorted = kth.clone();
            Arrays.sort(sorted);
            double threshold = sorted[(int) (0.9 * (n - 1))];
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                double[] v = new double[e.dim()];
                float[] r = e.row(i);
                for (int j = 0; j < v.length; j++) {
                    v[j] = r[j];
                }
                rows.add(RowFactory.create(i, Vectors.dense(v)));
            }
            StructType schema = new StructType().add("id", DataTypes.IntegerType).add("features", new VectorUDT());
            Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(8).cache();
            df.count();
            double[][] lsh = Boolean.parseBoolean(System.getProperty("lory4j.measure.lsh", "true"))
                    ? new double[][] {{1.0, 4}, {2.0, 4}, {2.0, 8}} : new double[0][];
            for (double[] cfg : lsh) {
                long s0 = System.nanoTime();
                BucketedRandomProjectionLSHModel model = new BucketedRandomProjectionLSH().setBucketLength(cfg[0])
                        .setNumHashTables((int) cfg[1]).setSeed(1).setInputCol("features").setOutputCol("hashes")
                        .fit(df);
                Dataset<Row> pairs = model.approxSimilarityJoin(df, df, threshold, "dist")
                        .select(functions.col("datasetA.id").as("a"), functions.col("datasetB.id").as("b"),
                                functions.col("dist"))
                        .filter("a != b");
                Dataset<Row> top = pairs.withColumn("rank", functions.row_number().over(
                        Window.partitionBy("a").orderBy(functions.col("dist"), functions.col("b"))))
                        .filter("rank <= " + k);
                List<Row> got = top.collectAsList();
                double secs = (System.nanoTime() - s0) / 1e9;
                Map<Integer, List<Integer>> nb = new HashMap<>();
                for (Row r : got) {
                    nb.computeIfAbsent(r.getInt(0), x -> new ArrayList<>()).add(r.getInt(1));
                }
                int[] ids = new int[n * k];
                Arrays.fill(ids, -1);
                nb.forEach((i, l) -> {
                    for (int j = 0; j < l.size(); j++) {
                        ids[i * k + j] = l.get(j);
                    }
                });
                double recall = new KnnGraph(n, k, ids, new float[n * k]).recallAgainst(exact);
                out.printf(Locale.ROOT, "%-34s %8.4f %10.1f%n", String.format(Locale.ROOT,
                        "MLlib LSH, bucket %.1f, %d tables", cfg[0], (int) cfg[1]), recall, secs);
            }
            out.printf(Locale.ROOT, "(LSH join threshold: Euclidean distance %.3f, the 10th neighbour of 90%% of the "
                    + "passages)%n", threshold);
        }
    }

    /**
     * The pipeline at scale on a JSONL file named by {@code -Dlory4j.measure.corpus}: stage times, and recall@10 of
     * 1,000 seeded queries against exact search over all documents.
     */
    @Test
    @EnabledIfSystemProperty(named = "lory4j.measure.corpus", matches = ".+")
    void pipelineAtScale() throws Exception {
        Path corpus = Path.of(System.getProperty("lory4j.measure.corpus"));
        int probes = Integer.getInteger("lory4j.measure.probes", 4);
        Path tok = tmp.resolve("byte.json");
        new ByteTokenizer().save(tok);
        List<Document> docs = Corpus.open(corpus).load();
        List<String> texts = docs.stream().map(Document::text).toList();
        Embeddings e = new HashedTfIdfEmbedder().embed(texts);
        // exact top-10 of 1,000 seeded queries
        int k = 10;
        int queries = 1000;
        java.util.Random rnd = new java.util.Random(1);
        int[] query = new int[queries];
        int[][] truth = new int[queries][k];
        for (int q = 0; q < queries; q++) {
            int i = rnd.nextInt(texts.size());
            query[q] = i;
            float[] sims = new float[texts.size()];
            Integer[] idx = new Integer[texts.size()];
            for (int j = 0; j < sims.length; j++) {
                sims[j] = j == i ? Float.NEGATIVE_INFINITY : e.dot(i, j);
                idx[j] = j;
            }
            Arrays.sort(idx, (a, b) -> Float.compare(sims[b], sims[a]));
            for (int j = 0; j < k; j++) {
                truth[q][j] = idx[j];
            }
        }
        Packer packer = new Packer(new ByteTokenizer(), 257);
        Map<String, Integer> rows = PackingMetrics.rowsById(docs.stream().map(Document::id).toList());

        long t0 = System.nanoTime();
        SimilarityBatching.Result single = SimilarityBatching.defaults().order(docs);
        double singleSeconds = (System.nanoTime() - t0) / 1e9;
        long hit = 0;
        for (int q = 0; q < queries; q++) {
            java.util.Set<Integer> got = new java.util.HashSet<>();
            for (int j = 0; j < single.knn().k(); j++) {
                got.add(single.knn().neighbor(query[q], j));
            }
            for (int t : truth[q]) {
                hit += got.contains(t) ? 1 : 0;
            }
        }
        System.out.printf(Locale.ROOT, "single machine (%s): %.1f s %s; recall@%d %.4f; %d walks; %s%n",
                SimilarityBatching.defaults().index().describe(), singleSeconds, Arrays.toString(single.seconds()),
                k, (double) hit / (queries * k), single.walks(),
                PackingMetrics.measure(packer.pack(docs, single.order()), e, rows));
        System.out.printf(Locale.ROOT, "random packing: %s%n", PackingMetrics.measure(packer.packRandom(docs, 1), e,
                rows));

        try (SparkSession spark = Sessions.start("pipeline-at-scale", null, 2, 3072)) {
            spark.sparkContext().setLogLevel("WARN");
            SimilarityPipeline.Result r = SimilarityPipeline.run(spark, SimilarityPipeline.Spec.defaults(
                    corpus.toString(), tmp.resolve("shards").toString(), Files.readAllBytes(tok), 257)
                    .withIndex(0, probes).withWalkDocs(Integer.getInteger("lory4j.measure.walkDocs", 200_000))
                    .collecting(), System.out);
            hit = 0;
            for (int q = 0; q < queries; q++) {
                java.util.Set<Long> got = new java.util.HashSet<>();
                for (long id : r.neighbors().get((long) query[q])) {
                    got.add(id);
                }
                for (int t : truth[q]) {
                    hit += got.contains((long) t) ? 1 : 0;
                }
            }
            int[] order = Arrays.stream(r.order()).mapToInt(Math::toIntExact).toArray();
            System.out.printf(Locale.ROOT, "spark, %d lists, %d probes, %d walk partitions: %.1f s %s; recall@%d "
                    + "%.4f; %d walks; %s%n", r.lists(), probes, r.walkPartitions(), r.seconds().get("total"), r.seconds(), k, (double) hit / (queries * k),
                    r.walks(), PackingMetrics.measure(packer.pack(docs, order), e, rows));
        }
    }
}
