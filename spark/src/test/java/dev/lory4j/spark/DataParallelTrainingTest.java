package dev.lory4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.moe.train.Trainer;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.autograd.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two-replica data-parallel Lory training on two executor processes equals single-process training on the same
 * global batches, reruns bit for bit, and recovers from a failed replica to the same weights.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DataParallelTrainingTest {
    private static JavaSparkContext sc;
    @TempDir
    static Path tmp;
    private static Path shards;
    private static MoeConfig model;
    private static final int STEPS = 6;
    private static final int BATCH = 4;

    @BeforeAll
    static void setUp() throws Exception {
        List<Document> docs = Corpus.bundled().split(Split.TRAIN).load().subList(0, 120);
        ByteTokenizer tok = new ByteTokenizer();
        PackedSequences packed = new Packer(tok, 33).packRandom(docs, 5);
        shards = tmp.resolve("shards");
        TokenShards.write(shards, packed, tok, 7, Map.of());
        DecoderConfig d = DecoderConfig.builder().vocabSize(tok.vocabSize()).hiddenSize(32).numLayers(2).numHeads(2)
                .intermediateSize(48).maxPositions(32).initStd(0.02f).scaledInit(true).build();
        model = MoeConfig.lory(d, 4, 8);
        sc = LocalCluster.start("lory4j-dp-test");
    }

    @AfterAll
    static void tearDown() {
        if (sc != null) {
            sc.stop();
        }
    }

    private static DataParallelTraining.Spec spec(String out, int failAt) {
        return new DataParallelTraining.Spec(shards.toString(), tmp.resolve(out).toString(), Json.write(model.toMap()),
                STEPS, BATCH, 3e-3f, 11, 0.34f, 2, 0, 8, null, 2, 60, 3, failAt);
    }

    private static DataParallelTraining.Result run(String out, int failAt, StringBuilder log) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataParallelTraining.Result r;
        try (PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            r = DataParallelTraining.run(sc, spec(out, failAt), ps);
        }
        log.append(bytes.toString(StandardCharsets.UTF_8));
        return r;
    }

    @Test
    void twoReplicasTrainLikeOneProcessRerunExactlyAndRecover() throws Exception {
        PackedSequences packed = TokenShards.read(shards);
        TrainConfig tc = spec("unused", -1).trainConfig(false);
        Trainer.Result single = new Trainer(model, tc, new PackedBatchSource(packed, BATCH, 11), Map.of(), null).run();

        StringBuilder log = new StringBuilder();
        DataParallelTraining.Result dp = run("dp", -1, log);
        assertThat(dp.attempts()).isEqualTo(1);
        assertThat(dp.fingerprints()).hasSize(2);
        assertThat(dp.losses()).hasSize(STEPS);
        for (int i = 0; i < STEPS; i++) {
            assertThat(dp.losses().get(i)).as("loss of step %d", i)
                    .isCloseTo((double) single.steps().get(i).loss(), org.assertj.core.data.Offset.offset(2e-4));
        }
        assertThat(log.toString()).contains("spark x2").contains("step " + STEPS + "/" + STEPS);
        Map<String, Tensor> want = single.model().lm().stateDict();
        Map<String, Tensor> got = MoeModel.load(tmp.resolve("dp").resolve("latest.safetensors")).lm().stateDict();
        assertThat(got.keySet()).isEqualTo(want.keySet());
        double worst = 0;
        for (String k : want.keySet()) {
            float[] a = want.get(k).toArray();
            float[] b = got.get(k).toArray();
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]));
            }
        }
        assertThat(worst).as("largest weight difference to single-process training").isLessThan(1e-4);
        assertThat(dp.bytesPerStep()).isGreaterThan(0);

        DataParallelTraining.Result again = run("dp-again", -1, new StringBuilder());
        assertThat(again.fingerprints()).isEqualTo(dp.fingerprints());
        assertThat(again.losses()).isEqualTo(dp.losses());

        StringBuilder failLog = new StringBuilder();
        DataParallelTraining.Result recovered = run("dp-fail", 3, failLog);
        assertThat(recovered.attempts()).isEqualTo(2);
        // Spark reports whichever barrier task failed first: the drilled replica 0, or its ring peer that lost
        // the connection. Either way the first attempt failed, and the drill's marker shows where.
        assertThat(failLog.toString()).contains("attempt 1 failed").contains("resumed from");
        assertThat(java.nio.file.Files.readString(tmp.resolve("dp-fail").resolve(".failed-once")))
                .isEqualTo("step 3\n");
        assertThat(recovered.fingerprints()).isEqualTo(dp.fingerprints());
        assertThat(recovered.losses()).isEqualTo(dp.losses());
    }
}
