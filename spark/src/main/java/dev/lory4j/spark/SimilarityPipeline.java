package dev.lory4j.spark;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.IcpTraversal;
import dev.lory4j.data.batch.NearDuplicateFilter;
import dev.lory4j.data.batch.SimilarityGraph;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.data.knn.DotKernel;
import dev.lory4j.data.knn.IvfNeighborIndex;
import dev.lory4j.data.knn.KnnGraph;
import dev.lory4j.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Lory's similarity batching (In-Context Pretraining's pipeline, spec §6) as a Spark job, for corpora that do not
 * fit one machine: documents → embeddings → approximate nearest neighbours → the ICP traversal → near-duplicate
 * filter → packing → {@link TokenShards} that {@code lory4j train --data} and {@link DataParallelTraining} read.
 *
 * <ol>
 *   <li><b>Read</b> JSONL (.gz) or Parquet with Spark SQL: a {@code text} column, optional {@code id},
 *       {@code domain}, {@code split} (as the single-machine reader: a document without a split is held out by
 *       the hash of its id). Held-out documents go to {@code heldout.jsonl} for evaluation.</li>
 *   <li><b>Embed</b> with the same {@link HashedTfIdfEmbedder}: document frequencies are counted per partition and
 *       summed, so every document gets exactly the row the single-machine embedder gives it.</li>
 *   <li><b>Nearest neighbours</b>: a distributed inverted file. Spherical k-means centroids are trained on a
 *       sample at the driver; every document is stored in the list of its nearest centroid and searched in its
 *       {@code probes} nearest lists; each list is one task comparing its queries with its members exactly;
 *       the partial top-k lists of a document are merged. One list and one probe is exact search.</li>
 *   <li><b>Traversal per partition</b>: lists are chained by a greedy walk over their centroids, and consecutive
 *       lists of the chain form traversal partitions of up to {@code walkDocs} documents; the ICP walk
 *       (minimum-degree starts, highest-similarity unvisited neighbour) runs exactly on each partition's documents
 *       and the kNN edges among them. Edges between partitions are dropped; the ICP reference code restarts its
 *       walk every 21 documents anyway, so partitions of tens of thousands lose little (measured in
 *       docs/spark.md).</li>
 *   <li><b>Near-duplicates</b>: the same filter on consecutive documents within each partition's path.</li>
 *   <li><b>Packing</b>, exact: every partition's token stream gets its global offset from the chained order, so the
 *       rows are the single-machine {@code Packer}'s rows for the same document order; rows are grouped into
 *       shard files, one task per shard.</li>
 * </ol>
 */
public final class SimilarityPipeline {
    private SimilarityPipeline() {
    }

    /**
     * The job's settings.
     *
     * @param input           a JSONL/JSONL.gz file, a Parquet file, or a directory of either (any path or URI Spark
     *                        reads)
     * @param format          json, parquet, or auto (parquet when the name ends in .parquet or a local directory
     *                        holds .parquet files)
     * @param out             the shard directory to write (rows, tokenizer, manifest, heldout.jsonl)
     * @param tokenizerJson   the tokenizer as the bytes of its tokenizer.json
     * @param rowTokens       tokens per row (a trainer's sequence length + 1)
     * @param k               neighbours per document
     * @param lists           inverted lists (0: documents / clusterDocs)
     * @param clusterDocs     documents per list when {@code lists} is 0
     * @param walkDocs        documents per traversal partition: consecutive lists of the centroid chain are walked
     *                        together up to this many documents (at least one list)
     * @param probes          lists searched per document
     * @param iterations      k-means iterations
     * @param seed            seed of the centroid sample
     * @param dedupThreshold  near-duplicate Jaccard threshold (negative: no filter)
     * @param dedupPrefix     characters compared by the filter
     * @param heldoutFraction held-out share for documents without a split
     * @param partitions      partitions of the document stages
     * @param rowsPerShard    rows per shard file
     * @param collect         also return the document order and the kNN lists (small inputs: tests, reports)
     */
    public record Spec(String input, String format, String out, byte[] tokenizerJson, int rowTokens, int k, int lists,
                       int clusterDocs, int walkDocs, int probes, int iterations, long seed, double dedupThreshold, int dedupPrefix,
                       double heldoutFraction, int partitions, int rowsPerShard, boolean collect)
            implements Serializable {
        /** Checks the values. */
        public Spec {
            if (!List.of("auto", "json", "parquet").contains(format)) {
                throw new IllegalArgumentException("SimilarityPipeline: format '" + format + "' is not one of auto, "
                        + "json, parquet");
            }
            if (rowTokens < 2 || k < 1 || lists < 0 || clusterDocs < 1 || walkDocs < 1 || probes < 1 || iterations < 0
                    || partitions < 1 || rowsPerShard < 1 || dedupPrefix < 1 || dedupThreshold > 1
                    || !(heldoutFraction >= 0 && heldoutFraction <= 1)) {
                throw new IllegalArgumentException("SimilarityPipeline: row tokens " + rowTokens + ", k " + k
                        + ", lists " + lists + ", cluster docs " + clusterDocs + ", walk docs " + walkDocs
                        + ", probes " + probes
                        + ", iterations " + iterations + ", partitions " + partitions + ", rows per shard "
                        + rowsPerShard + ", dedup " + dedupThreshold + "/" + dedupPrefix + ", held out "
                        + heldoutFraction + " (row tokens >= 2; k, cluster and walk docs, probes, partitions, rows per shard, "
                        + "prefix >= 1; lists, iterations >= 0; threshold <= 1; fraction in [0, 1])");
            }
        }

        /** The defaults of the single-machine pipeline for {@code input} → {@code out}. */
        public static Spec defaults(String input, String out, byte[] tokenizerJson, int rowTokens) {
            NearDuplicateFilter f = NearDuplicateFilter.defaults();
            return new Spec(input, "auto", out, tokenizerJson, rowTokens, 10, 0, 2000, 200_000, 4, 6, 1, f.threshold(),
                    f.prefixChars(), 0.05, 8, 4096, false);
        }

        /** The same settings with {@code lists} lists and {@code probes} probes. */
        public Spec withIndex(int lists, int probes) {
            return new Spec(input, format, out, tokenizerJson, rowTokens, k, lists, clusterDocs, walkDocs, probes,
                    iterations, seed, dedupThreshold, dedupPrefix, heldoutFraction, partitions, rowsPerShard, collect);
        }

        /** The same settings with traversal partitions of up to {@code walkDocs} documents. */
        public Spec withWalkDocs(int walkDocs) {
            return new Spec(input, format, out, tokenizerJson, rowTokens, k, lists, clusterDocs, walkDocs, probes,
                    iterations, seed, dedupThreshold, dedupPrefix, heldoutFraction, partitions, rowsPerShard, collect);
        }

        /** The same settings, collecting the order and the kNN lists at the driver. */
        public Spec collecting() {
            return new Spec(input, format, out, tokenizerJson, rowTokens, k, lists, clusterDocs, walkDocs, probes,
                    iterations, seed, dedupThreshold, dedupPrefix, heldoutFraction, partitions, rowsPerShard, true);
        }

        Tokenizer tokenizer() {
            try {
                Path tmp = Files.createTempFile("lory4j-tokenizer", ".json");
                try {
                    Files.write(tmp, tokenizerJson);
                    return Tokenizer.load(tmp);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("SimilarityPipeline: the tokenizer cannot be read: " + e.getMessage(), e);
            }
        }
    }

    /**
     * What the job did.
     *
     * @param documents  documents read
     * @param train      training documents (the rest are held out)
     * @param dropped    near-duplicates dropped
     * @param lists      inverted lists used
     * @param walkPartitions traversal partitions (groups of chained lists walked together)
     * @param walks      walks of the traversal (1 + restarts, over all lists)
     * @param rows       rows written
     * @param tailTokens tokens at the end that did not fill a row
     * @param order      the training documents' input indices in packing order (when collected, else null)
     * @param neighbors  per input index, the neighbours' input indices (when collected, else null)
     * @param seconds    wall time per stage
     */
    public record Result(long documents, long train, long dropped, int lists, int walkPartitions, long walks, long rows, long tailTokens,
                         long[] order, Map<Long, long[]> neighbors, Map<String, Double> seconds) {
    }

    /** A document with its position in the input. */
    record Doc(long index, String id, String domain, String text) implements Serializable {
    }

    /** A document's vector in an inverted list: stored there ({@code member}), searched from there, or both. */
    record Entry(long index, float[] vec, boolean member, boolean query, boolean primary) implements Serializable {
    }

    /** A document's best neighbours so far (input indices, by similarity, ties to the smaller index). */
    record Neighbors(long[] ids, float[] sims, int primary) implements Serializable {
        Neighbors merge(Neighbors o, int k) {
            List<Integer> order = new ArrayList<>();
            long[] ids2 = new long[ids.length + o.ids.length];
            float[] sims2 = new float[ids2.length];
            System.arraycopy(ids, 0, ids2, 0, ids.length);
            System.arraycopy(o.ids, 0, ids2, ids.length, o.ids.length);
            System.arraycopy(sims, 0, sims2, 0, sims.length);
            System.arraycopy(o.sims, 0, sims2, sims.length, o.sims.length);
            for (int i = 0; i < ids2.length; i++) {
                order.add(i);
            }
            order.sort(Comparator.<Integer>comparingDouble(i -> -sims2[i]).thenComparingLong(i -> ids2[i]));
            int n = Math.min(k, order.size());
            long[] id = new long[n];
            float[] sim = new float[n];
            for (int j = 0; j < n; j++) {
                id[j] = ids2[order.get(j)];
                sim[j] = sims2[order.get(j)];
            }
            return new Neighbors(id, sim, Math.max(primary, o.primary));
        }
    }

    /** Where the walk put a document: its traversal partition, its position there, whether a walk starts there. */
    record Place(int part, int position, boolean startsWalk) implements Serializable {
    }

    /** Orders places by partition, then position. */
    record PlaceOrder() implements Comparator<Place>, Serializable {
        @Override
        public int compare(Place a, Place b) {
            return a.part() != b.part() ? Integer.compare(a.part(), b.part())
                    : Integer.compare(a.position(), b.position());
        }
    }

    /** Sends a whole traversal partition to one task. */
    static final class ByPart extends org.apache.spark.Partitioner {
        private final int tasks;

        ByPart(int tasks) {
            this.tasks = tasks;
        }

        @Override
        public int numPartitions() {
            return tasks;
        }

        @Override
        public int getPartition(Object key) {
            return Math.floorMod(((Place) key).part(), tasks);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ByPart b && b.tasks == tasks;
        }

        @Override
        public int hashCode() {
            return tasks;
        }
    }

    /** A kept document's tokens (boundary included) at its offset in its traversal partition's stream. */
    record Piece(int part, long offset, long index, int[] tokens) implements Serializable {
    }

    /** Runs the job on {@code spark}, printing progress to {@code log}. */
    public static Result run(SparkSession spark, Spec spec, PrintStream log) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Map<String, Double> seconds = new LinkedHashMap<>();
        Path out = Path.of(spec.out());
        if (TokenShards.isShardDirectory(out)) {
            throw new IOException(out + " already holds finished shards (" + TokenShards.MANIFEST + "); choose a new "
                    + "directory");
        }
        Files.createDirectories(out);
        long t0 = System.nanoTime();

        // 1. read
        JavaRDD<Tuple2<Doc, Boolean>> all = read(spark, spec);
        all.persist(StorageLevel.MEMORY_AND_DISK());
        JavaRDD<Doc> train = all.filter(t -> !t._2()).map(Tuple2::_1).repartition(spec.partitions());
        train.persist(StorageLevel.MEMORY_AND_DISK());
        long documents = all.count();
        writeHeldout(out.resolve("heldout.jsonl"), all.filter(Tuple2::_2).map(Tuple2::_1).collect());
        long n = train.count();
        all.unpersist(false);
        if (n < 2) {
            throw new IllegalArgumentException(spec.input() + ": " + n + " training document(s); the pipeline needs "
                    + "at least 2");
        }
        log.printf(Locale.ROOT, "pipeline: %,d documents read, %,d for training, %,d held out (%s)%n", documents, n,
                documents - n, out.resolve("heldout.jsonl"));
        long t1 = lap(seconds, "read", t0);

        // 2. embed with the corpus' document frequencies
        HashedTfIdfEmbedder embedder = new HashedTfIdfEmbedder();
        HashedTfIdfEmbedder.DocumentFrequencies df = train.mapPartitions(docs -> {
            List<String> texts = new ArrayList<>();
            docs.forEachRemaining(d -> texts.add(d.text()));
            return List.of(new HashedTfIdfEmbedder().documentFrequencies(texts)).iterator();
        }).treeReduce(HashedTfIdfEmbedder.DocumentFrequencies::plus);
        Broadcast<HashedTfIdfEmbedder.DocumentFrequencies> dfb = sc.broadcast(df);
        JavaPairRDD<Long, float[]> vectors = train.mapPartitionsToPair(docs -> {
            List<Doc> part = new ArrayList<>();
            docs.forEachRemaining(part::add);
            Embeddings e = new HashedTfIdfEmbedder().embed(part.stream().map(Doc::text).toList(), dfb.value());
            List<Tuple2<Long, float[]>> rows = new ArrayList<>(part.size());
            for (int i = 0; i < part.size(); i++) {
                rows.add(new Tuple2<>(part.get(i).index(), e.row(i)));
            }
            return rows.iterator();
        });
        vectors.persist(StorageLevel.MEMORY_AND_DISK());
        vectors.count();
        int dim = embedder.dimension();
        long t2 = lap(seconds, "embed", t1);

        // 3. centroids on a sample, then the distributed inverted file
        int lists = (int) Math.max(1, Math.min(n, spec.lists() > 0 ? spec.lists()
                : Math.round((double) n / spec.clusterDocs())));
        int probes = Math.min(spec.probes(), lists);
        // the sample: the documents whose seeded hash of their index is smallest, so it does not depend on how
        // the partitions are laid out (takeSample's does), and the job's output is the same from run to run
        long seed = spec.seed();
        List<Tuple2<Long, float[]>> sample = new ArrayList<>(vectors.takeOrdered((int) Math.min(n, 64L * lists),
                new SampleOrder(seed)));
        sample.sort(Comparator.comparingLong(Tuple2::_1));
        float[] x = new float[sample.size() * dim];
        for (int i = 0; i < sample.size(); i++) {
            System.arraycopy(sample.get(i)._2(), 0, x, i * dim, dim);
        }
        float[] centroids = IvfNeighborIndex.trainCentroids(x, sample.size(), dim, lists, spec.iterations(),
                spec.seed());
        Broadcast<float[]> cb = sc.broadcast(centroids);
        int k = (int) Math.min(spec.k(), n - 1);
        JavaPairRDD<Integer, Entry> entries = vectors.flatMapToPair(v -> {
            int[] near = nearest(v._2(), cb.value(), dim, probes);
            List<Tuple2<Integer, Entry>> e = new ArrayList<>(near.length);
            for (int j = 0; j < near.length; j++) {
                e.add(new Tuple2<>(near[j], new Entry(v._1(), v._2(), j == 0, true, j == 0)));
            }
            return e.iterator();
        });
        JavaPairRDD<Long, Neighbors> knn = entries.groupByKey(Math.max(1, Math.min(lists, spec.partitions() * 4)))
                .flatMapToPair(g -> searchList(g._1(), g._2(), dim, k).iterator())
                .reduceByKey((a, b) -> a.merge(b, k));
        knn.persist(StorageLevel.MEMORY_AND_DISK());
        knn.count();
        vectors.unpersist(false);
        log.printf(Locale.ROOT, "pipeline: %,d embeddings of %d, %d-NN through %d inverted lists (%d probes)%n", n,
                dim, k, lists, probes);
        long t3 = lap(seconds, "knn", t2);

        // 4. the walk per traversal partition (consecutive lists of the centroid chain, up to walkDocs documents), on
        // document ids and kNN edges only
        Map<Integer, Long> listSizes = knn.map(t -> t._2().primary()).countByValue();
        int[] chain = chain(centroids, lists, dim, new ArrayList<>(listSizes.keySet()));
        int[] partOf = new int[lists];
        int parts = 0;
        long filled = 0;
        for (int c : chain) {
            long size = listSizes.get(c);
            if (parts == 0 || filled > 0 && filled + size > spec.walkDocs()) {
                parts++;
                filled = 0;
            }
            partOf[c] = parts - 1;
            filled += size;
        }
        Broadcast<int[]> pb = sc.broadcast(partOf);
        int tasks = Math.max(1, Math.min(parts, spec.partitions() * 4));
        JavaPairRDD<Long, Place> places = knn.mapToPair(t -> new Tuple2<>(pb.value()[t._2().primary()], t))
                .groupByKey(tasks)
                .flatMapToPair(g -> walk(g._1(), g._2()).iterator());
        places.persist(StorageLevel.MEMORY_AND_DISK());
        long walks = places.filter(p -> p._2().startsWalk()).count();

        // 5. texts in walk order, streamed: near-duplicates, then each kept document's tokens at its offset
        JavaRDD<Piece> kept = train.mapToPair(d -> new Tuple2<>(d.index(), d)).join(places)
                .mapToPair(t -> new Tuple2<>(t._2()._2(), t._2()._1()))
                .repartitionAndSortWithinPartitions(new ByPart(tasks), new PlaceOrder())
                .mapPartitions(it -> filterAndTokenize(it, spec).iterator());
        kept.persist(StorageLevel.MEMORY_AND_DISK());
        Map<Integer, Long> sizeOf = kept.mapToPair(p -> new Tuple2<>(p.part(), (long) p.tokens().length))
                .reduceByKey(Long::sum).collectAsMap();
        long docsKept = kept.count();
        long dropped = n - docsKept;
        long[] offset = new long[parts];
        long total = 0;
        for (int part = 0; part < parts; part++) {
            offset[part] = total;
            total += sizeOf.getOrDefault(part, 0L);
        }
        long rows = total / spec.rowTokens();
        log.printf(Locale.ROOT, "pipeline: traversal in %d partition(s) of up to %,d documents (%,d walks), %,d "
                + "near-duplicates dropped, %,d tokens%n", parts, spec.walkDocs(), walks, dropped, total);
        long t4 = lap(seconds, "traverse", t3);

        // 6. exact packing: each document's tokens at its global offset, rows grouped into shard files
        Broadcast<long[]> ob = sc.broadcast(offset);
        int rowTokens = spec.rowTokens();
        int perShard = spec.rowsPerShard();
        long rowCount = rows;
        int shardCount = (int) Math.max(1, (rows + perShard - 1) / perShard);
        List<TokenShards.Shard> shards = new ArrayList<>(kept.flatMapToPair(p -> pieces(p.tokens(),
                        ob.value()[p.part()] + p.offset(), rowTokens, rowCount, perShard).iterator())
                .groupByKey(shardCount)
                .map(g -> writeShard(spec.out(), g._1(), g._2(), rowTokens, rowCount, perShard))
                .collect());
        shards.sort(Comparator.comparing(TokenShards.Shard::file));
        if (rows == 0) {
            shards = List.of();
        }
        Map<String, String> info = new LinkedHashMap<>();
        info.put("source", spec.input());
        info.put("documents", Long.toString(n));
        info.put("near_duplicates_dropped", Long.toString(dropped));
        info.put("batching", "similarity (Spark: " + lists + " lists, " + probes + " probes, k " + k + ")");
        info.put("tail_tokens", Long.toString(total - rows * rowTokens));
        TokenShards.writeManifest(out, new TokenShards.Manifest(rowTokens, shards, info), spec.tokenizer());
        long t5 = lap(seconds, "pack", t4);

        long[] order = null;
        Map<Long, long[]> neighbors = null;
        if (spec.collect()) {
            List<Piece> placed = new ArrayList<>(kept.map(p -> new Piece(p.part(), p.offset(), p.index(), new int[0]))
                    .collect());
            placed.sort(Comparator.comparingInt(Piece::part).thenComparingLong(Piece::offset));
            order = placed.stream().mapToLong(Piece::index).toArray();
            neighbors = new LinkedHashMap<>();
            for (Tuple2<Long, Neighbors> t : knn.collect()) {
                neighbors.put(t._1(), t._2().ids());
            }
        }
        kept.unpersist(false);
        places.unpersist(false);
        knn.unpersist(false);
        train.unpersist(false);
        seconds.put("total", (t5 - t0) / 1e9);
        log.printf(Locale.ROOT, "pipeline: %,d rows of %d tokens in %d shard file(s) in %s (%.1f s: read %.1f, embed "
                        + "%.1f, kNN %.1f, traversal %.1f, packing %.1f)%n", rows, rowTokens, shards.size(), out,
                (t5 - t0) / 1e9, seconds.get("read"), seconds.get("embed"), seconds.get("knn"),
                seconds.get("traverse"), seconds.get("pack"));
        return new Result(documents, n, dropped, lists, parts, walks, rows, total - rows * rowTokens, order, neighbors,
                seconds);
    }

    private static long lap(Map<String, Double> seconds, String stage, long since) {
        long now = System.nanoTime();
        seconds.put(stage, (now - since) / 1e9);
        return now;
    }

    /** The documents with their input index and whether each is held out. */
    private static JavaRDD<Tuple2<Doc, Boolean>> read(SparkSession spark, Spec spec) {
        String in = spec.input();
        boolean parquet = spec.format().equals("parquet") || spec.format().equals("auto") && (in.endsWith(".parquet")
                || !in.contains("://") && Files.isDirectory(Path.of(in)) && hasFileEnding(Path.of(in), ".parquet"));
        Dataset<Row> rows = parquet ? spark.read().parquet(in) : spark.read().json(in);
        List<String> columns = Arrays.asList(rows.columns());
        if (!columns.contains("text")) {
            throw new IllegalArgumentException(in + ": no 'text' field (found " + columns + "); every document needs "
                    + "one");
        }
        for (String c : List.of("text", "id", "domain", "split")) {
            if (!columns.contains(c)) {
                rows = rows.withColumn(c, org.apache.spark.sql.functions.lit(null).cast("string"));
            }
        }
        double heldout = spec.heldoutFraction();
        return rows.select(rows.col("text").cast("string"), rows.col("id").cast("string"),
                        rows.col("domain").cast("string"), rows.col("split").cast("string"))
                .javaRDD().zipWithIndex().map(t -> {
                    Row r = t._1();
                    long index = t._2();
                    String text = r.getString(0);
                    if (text == null) {
                        throw new IllegalArgumentException(in + ": document " + index + " (in input order) has no "
                                + "'text'");
                    }
                    String id = r.isNullAt(1) ? "doc-" + index : r.getString(1);
                    String domain = r.isNullAt(2) || r.getString(2).isEmpty() ? "default" : r.getString(2);
                    Split split = r.isNullAt(3) ? Split.byHash(id, heldout) : Split.parse(r.getString(3));
                    return new Tuple2<>(new Doc(index, id, domain, text), split == Split.HELDOUT);
                });
    }

    private static boolean hasFileEnding(Path dir, String ending) {
        try (var files = Files.list(dir)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(ending));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    private static void writeHeldout(Path file, List<Doc> docs) throws IOException {
        Path tmp = Files.createTempFile(file.getParent(), ".heldout", ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp)) {
                JsonFactory f = new JsonFactory();
                for (Doc d : docs) {
                    try (JsonGenerator g = f.createGenerator(os, JsonEncoding.UTF8)) {
                        g.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
                        g.writeStartObject();
                        g.writeStringField("id", d.id());
                        g.writeStringField("domain", d.domain());
                        g.writeStringField("split", Split.HELDOUT.label());
                        g.writeStringField("text", d.text());
                        g.writeEndObject();
                    }
                    os.write('\n');
                }
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Orders documents by a seeded hash of their index (SplitMix64's finaliser). */
    record SampleOrder(long seed) implements Comparator<Tuple2<Long, float[]>>, Serializable {
        @Override
        public int compare(Tuple2<Long, float[]> a, Tuple2<Long, float[]> b) {
            return Long.compare(hash(a._1()), hash(b._1()));
        }

        private long hash(long index) {
            long z = index * 0x9E3779B97F4A7C15L + seed;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    /** The {@code p} centroids nearest to {@code v}, nearest first (ties: smaller index). */
    static int[] nearest(float[] v, float[] centroids, int dim, int p) {
        int c = centroids.length / dim;
        Integer[] idx = new Integer[c];
        float[] s = new float[c];
        for (int j = 0; j < c; j++) {
            idx[j] = j;
            s[j] = DotKernel.dot(v, 0, centroids, j * dim, dim);
        }
        Arrays.sort(idx, Comparator.<Integer>comparingDouble(j -> -s[j]).thenComparingInt(j -> j));
        int[] out = new int[Math.min(p, c)];
        for (int j = 0; j < out.length; j++) {
            out[j] = idx[j];
        }
        return out;
    }

    /** One inverted list: every query entry against every member (itself excluded), exactly. */
    private static List<Tuple2<Long, Neighbors>> searchList(int list, Iterable<Entry> entries, int dim, int k) {
        List<Entry> members = new ArrayList<>();
        List<Entry> queries = new ArrayList<>();
        for (Entry e : entries) {
            if (e.member()) {
                members.add(e);
            }
            if (e.query()) {
                queries.add(e);
            }
        }
        members.sort(Comparator.comparingLong(Entry::index));
        float[] base = new float[members.size() * dim];
        for (int i = 0; i < members.size(); i++) {
            System.arraycopy(members.get(i).vec(), 0, base, i * dim, dim);
        }
        List<Tuple2<Long, Neighbors>> out = new ArrayList<>(queries.size());
        for (Entry q : queries) {
            long[] ids = new long[k];
            float[] sims = new float[k];
            int size = 0;
            for (int i = 0; i < members.size(); i++) {
                long id = members.get(i).index();
                if (id == q.index()) {
                    continue;
                }
                float s = DotKernel.dot(q.vec(), 0, base, i * dim, dim);
                // members come by increasing id, so a strict '>' keeps the smaller id among equal similarities
                if (size == k && !(s > sims[k - 1])) {
                    continue;
                }
                int p = size < k ? size++ : k - 1;
                while (p > 0 && sims[p - 1] < s) {
                    sims[p] = sims[p - 1];
                    ids[p] = ids[p - 1];
                    p--;
                }
                sims[p] = s;
                ids[p] = id;
            }
            out.add(new Tuple2<>(q.index(), new Neighbors(Arrays.copyOf(ids, size), Arrays.copyOf(sims, size),
                    q.primary() ? list : -1)));
        }
        return out;
    }

    /** One traversal partition: the ICP walk over the kNN edges among its documents. */
    private static List<Tuple2<Long, Place>> walk(int part, Iterable<Tuple2<Long, Neighbors>> members) {
        List<Tuple2<Long, Neighbors>> docs = new ArrayList<>();
        members.forEach(docs::add);
        docs.sort(Comparator.comparingLong(Tuple2::_1));
        int m = docs.size();
        Map<Long, Integer> local = new java.util.HashMap<>(m * 2);
        for (int i = 0; i < m; i++) {
            local.put(docs.get(i)._1(), i);
        }
        int k = Math.max(1, docs.stream().mapToInt(t -> t._2().ids().length).max().orElse(1));
        int[] ids = new int[m * k];
        float[] sims = new float[m * k];
        Arrays.fill(ids, -1);
        Arrays.fill(sims, Float.NaN);
        for (int i = 0; i < m; i++) {
            Neighbors nb = docs.get(i)._2();
            int j = 0;
            for (int a = 0; a < nb.ids().length; a++) {
                Integer t = local.get(nb.ids()[a]);
                if (t != null) {
                    ids[i * k + j] = t;
                    sims[i * k + j++] = nb.sims()[a];
                }
            }
        }
        IcpTraversal.Path path = IcpTraversal.traverse(SimilarityGraph.fromKnn(new KnnGraph(m, k, ids, sims)));
        boolean[] start = new boolean[m];
        for (int s : path.starts()) {
            start[s] = true;
        }
        List<Tuple2<Long, Place>> out = new ArrayList<>(m);
        int[] order = path.path();
        for (int pos = 0; pos < m; pos++) {
            out.add(new Tuple2<>(docs.get(order[pos])._1(), new Place(part, pos, start[pos])));
        }
        return out;
    }

    /**
     * Documents in walk order (whole partitions, by position): drops each whose text is a near-duplicate of the last
     * kept one of its partition, and gives each kept one its tokens and its offset in the partition's stream.
     */
    private static List<Piece> filterAndTokenize(java.util.Iterator<Tuple2<Place, Doc>> docs, Spec spec) {
        NearDuplicateFilter filter = spec.dedupThreshold() >= 0
                ? new NearDuplicateFilter(spec.dedupThreshold(), spec.dedupPrefix()) : null;
        Tokenizer tok = spec.tokenizer();
        int boundary = tok.documentBoundaryId();
        List<Piece> out = new ArrayList<>();
        int part = -1;
        long offset = 0;
        String previous = null;
        while (docs.hasNext()) {
            Tuple2<Place, Doc> t = docs.next();
            if (t._1().part() != part) {
                part = t._1().part();
                offset = 0;
                previous = null;
            }
            String text = t._2().text();
            if (filter != null && previous != null && filter.similarity(previous, text) > filter.threshold()) {
                continue;
            }
            previous = text;
            int[] e = tok.encode(text);
            int[] withBoundary = Arrays.copyOf(e, e.length + 1);
            withBoundary[e.length] = boundary;
            out.add(new Piece(part, offset, t._2().index(), withBoundary));
            offset += withBoundary.length;
        }
        return out;
    }

    /** The order of the lists: a greedy walk over the centroids of the non-empty ones, from the first. */
    static int[] chain(float[] centroids, int lists, int dim, List<Integer> present) {
        boolean[] has = new boolean[lists];
        present.forEach(c -> has[c] = true);
        int[] out = new int[present.size()];
        boolean[] used = new boolean[lists];
        int cur = present.stream().mapToInt(Integer::intValue).min().orElse(0);
        for (int i = 0; i < out.length; i++) {
            out[i] = cur;
            used[cur] = true;
            int best = -1;
            float bs = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < lists; j++) {
                if (has[j] && !used[j]) {
                    float s = DotKernel.dot(centroids, cur * dim, centroids, j * dim, dim);
                    if (best < 0 || s > bs) {
                        best = j;
                        bs = s;
                    }
                }
            }
            cur = best;
        }
        return out;
    }

    /** Tokens at global stream offset {@code offset} cut at row boundaries: (shard, (row, position in row, tokens)). */
    private static List<Tuple2<Integer, Tuple2<Long, Tuple2<Integer, int[]>>>> pieces(int[] t, long offset,
                                                                                      int rowTokens, long rows,
                                                                                      int perShard) {
        List<Tuple2<Integer, Tuple2<Long, Tuple2<Integer, int[]>>>> out = new ArrayList<>();
        int pos = 0;
        while (pos < t.length) {
            long g = offset + pos;
            long row = g / rowTokens;
            if (row >= rows) {
                break;
            }
            int inRow = (int) (g % rowTokens);
            int take = Math.min(rowTokens - inRow, t.length - pos);
            out.add(new Tuple2<>((int) (row / perShard), new Tuple2<>(row, new Tuple2<>(inRow,
                    Arrays.copyOfRange(t, pos, pos + take)))));
            pos += take;
        }
        return out;
    }

    /** Assembles and writes one shard file from its pieces. */
    private static TokenShards.Shard writeShard(String dir, int shard, Iterable<Tuple2<Long, Tuple2<Integer, int[]>>>
            pieces, int rowTokens, long rows, int perShard) throws IOException {
        long first = (long) shard * perShard;
        int n = (int) Math.min(perShard, rows - first);
        int[] tokens = new int[n * rowTokens];
        long filled = 0;
        for (Tuple2<Long, Tuple2<Integer, int[]>> piece : pieces) {
            int[] t = piece._2()._2();
            System.arraycopy(t, 0, tokens, (int) (piece._1() - first) * rowTokens + piece._2()._1(), t.length);
            filled += t.length;
        }
        if (filled != tokens.length) {
            throw new IllegalStateException("shard " + shard + ": pieces fill " + filled + " of " + tokens.length
                    + " token slots");
        }
        return TokenShards.writeShard(Path.of(dir), shard, tokens, rowTokens);
    }
}
