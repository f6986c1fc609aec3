package dev.lory4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.NearDuplicateFilter;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.data.batch.SimilarityBatching;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.data.knn.ExactNeighborIndex;
import dev.lory4j.data.knn.KnnGraph;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark pipeline on two executor processes against the single-machine pipeline on the bundled corpus: kNN
 * recall, adjacent-document cosine and domain purity within stated bounds, and rows equal to the single-machine
 * packer's for the job's order.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SimilarityPipelineTest {
    private static SparkSession spark;
    @TempDir
    static Path tmp;
    private static Path input;
    private static byte[] tokenizer;
    private static List<Document> train;
    private static SimilarityBatching.Result single;
    private static final int ROW = 257;

    @BeforeAll
    static void setUp() throws Exception {
        input = tmp.resolve("corpus.jsonl.gz");
        try (InputStream in = Corpus.class.getClassLoader().getResourceAsStream(Corpus.BUNDLED_RESOURCE)) {
            Files.copy(in, input);
        }
        Path tok = tmp.resolve("byte.json");
        new ByteTokenizer().save(tok);
        tokenizer = Files.readAllBytes(tok);
        train = Corpus.bundled().split(Split.TRAIN).load();
        single = new SimilarityBatching(new HashedTfIdfEmbedder(), new ExactNeighborIndex(), 10,
                NearDuplicateFilter.defaults()).order(train);
        spark = SparkSession.builder().sparkContext(LocalCluster.start("lory4j-pipeline-test").sc()).getOrCreate();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) {
            spark.stop();
        }
    }

    private static SimilarityPipeline.Result run(String in, String out, int lists, int probes) throws Exception {
        return run(in, out, lists, probes, 200_000);
    }

    private static SimilarityPipeline.Result run(String in, String out, int lists, int probes, int walkDocs)
            throws Exception {
        SimilarityPipeline.Spec spec = SimilarityPipeline.Spec.defaults(in, tmp.resolve(out).toString(), tokenizer, ROW)
                .withIndex(lists, probes).withWalkDocs(walkDocs).collecting();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            SimilarityPipeline.Result r = SimilarityPipeline.run(spark, spec, ps);
            System.out.print(log.toString(StandardCharsets.UTF_8));
            return r;
        }
    }

    /** Input index (in the whole file) → position among the training documents. */
    private static Map<Long, Integer> trainPositions() {
        List<Document> all = Corpus.bundled().load();
        Map<Long, Integer> m = new HashMap<>();
        int t = 0;
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).split() == Split.TRAIN) {
                m.put((long) i, t++);
            }
        }
        return m;
    }

    private record Compared(double recall, PackingMetrics spark, PackingMetrics single, PackedSequences packed) {
    }

    private static Compared compare(SimilarityPipeline.Result r) {
        Map<Long, Integer> pos = trainPositions();
        int n = train.size();
        assertThat(r.train()).isEqualTo(n);
        int k = single.knn().k();
        int[] ids = new int[n * k];
        float[] sims = new float[n * k];
        java.util.Arrays.fill(ids, -1);
        r.neighbors().forEach((index, nb) -> {
            int row = pos.get(index);
            for (int j = 0; j < nb.length; j++) {
                ids[row * k + j] = pos.get(nb[j]);
            }
        });
        double recall = new KnnGraph(n, k, ids, sims).recallAgainst(single.knn());
        int[] order = new int[r.order().length];
        for (int i = 0; i < order.length; i++) {
            order[i] = pos.get(r.order()[i]);
        }
        Packer packer = new Packer(new ByteTokenizer(), ROW);
        PackedSequences sparkPacked = packer.pack(train, order);
        PackedSequences singlePacked = packer.pack(train, single.order());
        Map<String, Integer> rows = PackingMetrics.rowsById(train.stream().map(Document::id).toList());
        return new Compared(recall, PackingMetrics.measure(sparkPacked, single.embeddings(), rows),
                PackingMetrics.measure(singlePacked, single.embeddings(), rows), sparkPacked);
    }

    @Test
    void oneListIsTheExactPipelineAndTheRowsAreThePackersRows() throws Exception {
        SimilarityPipeline.Result r = run(input.toString(), "exact", 1, 1);
        Compared c = compare(r);
        System.out.printf("one list: recall %.4f, spark %s; single machine %s%n", c.recall(), c.spark(), c.single());
        assertThat(c.recall()).isGreaterThan(0.995);
        assertThat(c.spark().meanAdjacentCosine()).isCloseTo(c.single().meanAdjacentCosine(),
                org.assertj.core.data.Offset.offset(0.005));
        assertThat(c.spark().meanPurity()).isCloseTo(c.single().meanPurity(), org.assertj.core.data.Offset.offset(0.01));
        assertThat(r.dropped()).isEqualTo(single.dropped().length);

        PackedSequences shards = TokenShards.read(tmp.resolve("exact"));
        assertThat(shards.size()).isEqualTo(c.packed().size()).isEqualTo((int) r.rows());
        for (int i = 0; i < shards.size(); i++) {
            assertThat(shards.tokens(i)).as("row %d", i).isEqualTo(c.packed().tokens(i));
        }
        assertThat(TokenShards.manifest(tmp.resolve("exact")).info()).containsEntry("documents", "" + train.size());
        assertThat(Corpus.open(tmp.resolve("exact").resolve("heldout.jsonl")).load())
                .hasSize((int) (r.documents() - r.train()));
    }

    @Test
    void invertedListsAndWalkPartitionsKeepRecallCosineAndPurityNearTheSingleMachine() throws Exception {
        SimilarityPipeline.Result whole = run(input.toString(), "ivf-one-walk", 8, 3);
        Compared w = compare(whole);
        System.out.printf("8 lists, 3 probes, one walk partition: recall %.4f, %d walks; spark %s%n", w.recall(),
                whole.walks(), w.spark());
        assertThat(whole.walkPartitions()).isEqualTo(1);
        assertThat(w.spark().meanAdjacentCosine()).isGreaterThan(w.single().meanAdjacentCosine() - 0.02);
        SimilarityPipeline.Result r = run(input.toString(), "ivf", 8, 3, 100);
        assertThat(r.walkPartitions()).isGreaterThan(4);
        Compared c = compare(r);
        Packer packer = new Packer(new ByteTokenizer(), ROW);
        PackingMetrics random = PackingMetrics.measure(packer.packRandom(train, 1), single.embeddings(),
                PackingMetrics.rowsById(train.stream().map(Document::id).toList()));
        System.out.printf("8 lists, 3 probes, walk partitions of 100: recall %.4f, %d walks; spark %s; single machine "
                + "%s; random %s%n",
                c.recall(), r.walks(), c.spark(), c.single(), random);
        assertThat(r.lists()).isEqualTo(8);
        assertThat(c.recall()).isGreaterThan(0.85);
        assertThat(c.spark().meanAdjacentCosine()).isGreaterThan(c.single().meanAdjacentCosine() - 0.03)
                .isGreaterThan(random.meanAdjacentCosine() + 0.1);
        // rows of 256 bytes from documents of ~14 kB are almost all one-domain whatever the order, so purity is
        // compared with the single machine, and the domain test that can tell orders apart is the neighbours' domains
        assertThat(c.spark().meanPurity()).isGreaterThan(c.single().meanPurity() - 0.05);
        assertThat(c.spark().sameDomainAdjacent()).isGreaterThan(c.single().sameDomainAdjacent() - 0.05)
                .isGreaterThan(random.sameDomainAdjacent() + 0.3);
        PackedSequences shards = TokenShards.read(tmp.resolve("ivf"));
        for (int i = 0; i < shards.size(); i++) {
            assertThat(shards.tokens(i)).as("row %d", i).isEqualTo(c.packed().tokens(i));
        }
        // the same input gives the same lists, order and rows again (the centroid sample ignores partitioning)
        SimilarityPipeline.Result again = run(input.toString(), "ivf-again", 8, 3, 100);
        assertThat(again.order()).isEqualTo(r.order());
        assertThat(Files.readAllBytes(tmp.resolve("ivf-again").resolve(TokenShards.shardName(0))))
                .isEqualTo(Files.readAllBytes(tmp.resolve("ivf").resolve(TokenShards.shardName(0))));
    }

    @Test
    void parquetInputGivesTheSameOrderAsJsonl() throws Exception {
        Path parquet = tmp.resolve("corpus.parquet");
        spark.read().json(input.toString()).write().parquet(parquet.toString());
        SimilarityPipeline.Result a = run(input.toString(), "from-json", 1, 1);
        SimilarityPipeline.Result b = run(parquet.toString(), "from-parquet", 1, 1);
        assertThat(b.order()).isEqualTo(a.order());
    }

    @Test
    void badInputIsNamed() throws Exception {
        Path bad = tmp.resolve("no-text.jsonl");
        Files.writeString(bad, "{\"id\": \"a\", \"body\": \"x\"}\n");
        assertThatThrownBy(() -> run(bad.toString(), "bad", 1, 1)).hasMessageContaining("no-text.jsonl")
                .hasMessageContaining("'text'");
        Files.createDirectories(tmp.resolve("done"));
        Files.writeString(tmp.resolve("done").resolve(TokenShards.MANIFEST), "{}");
        assertThatThrownBy(() -> run(input.toString(), "done", 1, 1)).hasMessageContaining("already holds");
    }
}
