package dev.lory4j.spark;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.ConsoleProgress;
import dev.lory4j.moe.train.DataParallel;
import dev.lory4j.moe.train.Evaluation;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.ProgressListener;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.moe.train.Trainer;
import dev.lory4j.tensor.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Data-parallel training on a Spark barrier stage: one model replica per barrier task (all start together or
 * none do), each reading the same shards ({@link TokenShards}) and training on its rows of every global batch
 * ({@link DataParallel}); gradients are summed every step by a {@link RingAllReduce} whose addresses the tasks
 * exchange with {@link BarrierTaskContext#allGather}. Replica 0 alone evaluates, reports progress to the driver
 * and writes checkpoints (atomically, into {@code out}); every replica ends with the same weights, which the
 * driver checks by their SHA-256.
 *
 * <p>A failed task fails the stage; the driver then starts the stage again and every replica resumes from the
 * last checkpoint (after checking, through the barrier, that they all read the same one), up to
 * {@code maxAttempts} times. Because a resume reproduces the uninterrupted run exactly, a recovered run ends
 * with the same weights as one that never failed.
 */
public final class DataParallelTraining {
    private DataParallelTraining() {
    }

    /**
     * What to train, serialised to every task.
     *
     * @param shards          the shard directory (every executor must see it: a shared mount on a cluster)
     * @param out             the run directory for checkpoints and metrics (shared, like {@code shards})
     * @param modelJson       the model config as JSON ({@link MoeConfig#toMap()})
     * @param steps           optimizer steps
     * @param batch           rows of the global batch (at least {@code workers})
     * @param lr              peak learning rate
     * @param seed            seed of initialisation and batch order
     * @param denseWarmup     share of the steps trained dense before upcycling (MoE kinds)
     * @param checkpointEvery steps between checkpoints
     * @param evalEvery       steps between evaluations on {@code evalData} (0: at the end only)
     * @param evalRows        evaluation rows per domain
     * @param evalData        held-out documents (JSONL) or null
     * @param workers         replicas (barrier tasks)
     * @param timeoutSeconds  how long a replica waits for a peer before it fails
     * @param maxAttempts     stage attempts before the job gives up
     * @param failOnceAtStep  fault injection for tests and drills: replica 0 fails after this step, once
     *                        (-1: never)
     */
    public record Spec(String shards, String out, String modelJson, int steps, int batch, float lr, long seed,
                       float denseWarmup, int checkpointEvery, int evalEvery, int evalRows, String evalData,
                       int workers, int timeoutSeconds, int maxAttempts, int failOnceAtStep) implements Serializable {
        /** Checks the values. */
        public Spec {
            if (workers < 1 || batch < workers || steps < 1 || checkpointEvery < 1 || maxAttempts < 1
                    || timeoutSeconds < 1) {
                throw new IllegalArgumentException("DataParallelTraining: workers " + workers + ", batch " + batch
                        + ", steps " + steps + ", checkpoint every " + checkpointEvery + ", attempts " + maxAttempts
                        + ", timeout " + timeoutSeconds + " s (need workers >= 1, batch >= workers, the rest >= 1)");
            }
        }

        TrainConfig trainConfig(boolean checkpoints) {
            return TrainConfig.builder().steps(steps).lr(lr).seed(seed).evalEvery(evalEvery)
                    .checkpoints(checkpoints ? Path.of(out) : null, checkpoints ? checkpointEvery : 0)
                    .denseWarmupFraction(denseWarmup).build();
        }

        MoeConfig model() {
            return MoeConfig.fromMap(Json.parseObject(modelJson, "model config"));
        }
    }

    /**
     * What a run did.
     *
     * @param attempts     stage attempts it took (1 when nothing failed)
     * @param fingerprints SHA-256 of each replica's final weights, by rank (all equal)
     * @param losses       the loss of every step (replica 0's record, resumed steps included)
     * @param bytesPerStep bytes each replica sent per all-reduce, in the last attempt
     * @param reduceSecondsPerStep seconds per all-reduce (replica 0, last attempt)
     * @param stepSeconds  wall seconds per step (replica 0, last attempt)
     */
    public record Result(int attempts, List<String> fingerprints, List<Double> losses, double bytesPerStep,
                         double reduceSecondsPerStep, double stepSeconds) {
    }

    /** Runs {@code spec} on {@code sc}'s executors, printing replica 0's progress to {@code log}. */
    public static Result run(JavaSparkContext sc, Spec spec, PrintStream log) throws IOException {
        Path out = Path.of(spec.out());
        Files.createDirectories(out);
        // a run directory the single-machine commands (eval, generate, inspect, export) read
        Files.copy(Path.of(spec.shards()).resolve(TokenShards.TOKENIZER), out.resolve(TokenShards.TOKENIZER),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(out.resolve("config.json"), spec.modelJson());
        String host = sc.getConf().get("spark.driver.host", InetAddress.getLoopbackAddress().getHostAddress());
        try (ProgressRelay relay = new ProgressRelay(InetAddress.getByName(host), log)) {
            for (int attempt = 1; ; attempt++) {
                try {
                    Result r = result(attempt, runStage(sc, spec, relay.address()));
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("workers", spec.workers());
                    m.put("attempts", r.attempts());
                    m.put("allreduce_bytes_per_step", r.bytesPerStep());
                    m.put("allreduce_seconds_per_step", r.reduceSecondsPerStep());
                    m.put("step_seconds", r.stepSeconds());
                    m.put("weights_sha256", r.fingerprints().getFirst());
                    m.put("loss", r.losses());
                    Files.writeString(out.resolve("metrics.json"), Json.write(m));
                    return r;
                } catch (Exception e) { // a failed stage is a SparkException, checked in Java and thrown unchecked
                    boolean tooFewSlots = rootMessage(e).contains("BarrierJobSlotsNumberCheckFailed");
                    if (tooFewSlots) {
                        throw new IllegalStateException(spec.workers() + " replicas need " + spec.workers()
                                + " free task slots at once, and the cluster has fewer: lower --workers or add "
                                + "executors (" + rootMessage(e) + ")", e);
                    }
                    if (attempt >= spec.maxAttempts()) {
                        throw new IllegalStateException("data-parallel training failed " + attempt + " time(s); last: "
                                + rootMessage(e), e);
                    }
                    log.printf(Locale.ROOT, "training stage attempt %d failed (%s); starting it again from the last "
                            + "checkpoint in %s%n", attempt, rootMessage(e), spec.out());
                }
            }
        }
    }

    private static List<String> runStage(JavaSparkContext sc, Spec spec, String relay) {
        ClassTag<String> stringTag = ClassTag$.MODULE$.apply(String.class);
        RDD<Integer> ranks = sc.parallelize(IntStream.range(0, spec.workers()).boxed().toList(), spec.workers()).rdd();
        Object collected = ranks.barrier().mapPartitions(new Replica(spec, relay), false, stringTag).collect();
        List<String> lines = new ArrayList<>();
        for (Object o : (Object[]) collected) {
            lines.add((String) o);
        }
        return lines;
    }

    @SuppressWarnings("unchecked")
    private static Result result(int attempts, List<String> lines) {
        String[] fingerprints = new String[lines.size()];
        List<Double> losses = List.of();
        double bytes = 0;
        double reduce = 0;
        double step = 0;
        for (String line : lines) {
            Map<String, Object> m = Json.parseObject(line, "replica result");
            int rank = ((Number) m.get("rank")).intValue();
            fingerprints[rank] = (String) m.get("fingerprint");
            if (rank == 0) {
                losses = ((List<Object>) m.get("losses")).stream().map(o -> ((Number) o).doubleValue()).toList();
                bytes = ((Number) m.get("bytes_per_step")).doubleValue();
                reduce = ((Number) m.get("reduce_seconds_per_step")).doubleValue();
                step = ((Number) m.get("step_seconds")).doubleValue();
            }
        }
        List<String> fp = Arrays.asList(fingerprints);
        if (fp.stream().distinct().count() != 1) {
            throw new IllegalStateException("data-parallel replicas ended with different weights: " + fp);
        }
        return new Result(attempts, List.copyOf(fp), losses, bytes, reduce, step);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    /** One barrier task: a replica. */
    static final class Replica extends AbstractFunction1<scala.collection.Iterator<Integer>,
            scala.collection.Iterator<String>> implements Serializable {
        private final Spec spec;
        private final String relay;

        Replica(Spec spec, String relay) {
            this.spec = spec;
            this.relay = relay;
        }

        @Override
        public scala.collection.Iterator<String> apply(scala.collection.Iterator<Integer> ignored) {
            try {
                return CollectionConverters.asScala(List.of(train()).iterator());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private String train() throws IOException {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            int rank = ctx.partitionId();
            int workers = ctx.getTaskInfos().length;
            Path out = Path.of(spec.out());
            Path checkpoint = out.resolve("latest.safetensors");
            try (RingAllReduce ring = RingAllReduce.join(ctx, spec.timeoutSeconds() * 1000);
                 Socket progressSocket = rank == 0 ? ProgressRelay.connect(relay) : null) {
                PrintStream progressOut = progressSocket == null ? null
                        : new PrintStream(progressSocket.getOutputStream(), true, StandardCharsets.UTF_8);
                PackedSequences packed = TokenShards.read(Path.of(spec.shards()));
                // every replica must start from the same state: compare what each sees of the checkpoint
                String seen = Files.exists(checkpoint) ? digest(Files.readAllBytes(checkpoint)) : "none";
                List<String> all = List.of(ctx.allGather(seen));
                if (all.stream().distinct().count() != 1) {
                    throw new IOException("replicas see different checkpoints in " + out + ": " + all
                            + " (the run directory must be one shared directory)");
                }
                Map<String, List<Batch>> eval = rank == 0 ? evalSets(spec, packed.seqLen() - 1) : Map.of();
                ProgressListener progress = rank == 0 ? progress(progressOut, spec, workers, out) : null;
                Trainer trainer = new Trainer(spec.model(), spec.trainConfig(rank == 0),
                        new PackedBatchSource(packed, spec.batch(), spec.seed()), eval, progress)
                        .dataParallel(new DataParallel(rank, workers, ring));
                long t0 = System.nanoTime();
                long sums0 = ring.calls();
                Trainer.Result r = Files.exists(checkpoint) ? trainer.resume(checkpoint) : trainer.run();
                long sums = Math.max(1, ring.calls() - sums0);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("rank", rank);
                m.put("fingerprint", fingerprint(r));
                m.put("losses", r.steps().stream().map(s -> (double) s.loss()).toList());
                m.put("bytes_per_step", (double) ring.bytesSent() / sums);
                m.put("reduce_seconds_per_step", ring.seconds() / sums);
                m.put("step_seconds", (System.nanoTime() - t0) / 1e9 / sums);
                return Json.write(m);
            }
        }
    }

    /** Replica 0's progress: the console lines of single-machine training, sent to the driver; plus the drill. */
    private static ProgressListener progress(PrintStream out, Spec spec, int workers, Path dir) {
        return new ConsoleProgress(out, "spark x" + workers, Math.max(1, spec.steps() / 50)).afterStep(step -> {
            if (step.step() + 1 == spec.failOnceAtStep()) {
                failOnce(dir, step.step() + 1);
            }
        });
    }

    /** The fault drill: fails the replica once (a marker file in the run directory remembers that it did). */
    private static void failOnce(Path dir, int step) {
        Path marker = dir.resolve(".failed-once");
        if (Files.exists(marker)) {
            return;
        }
        try {
            Files.writeString(marker, "step " + step + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("fault drill: replica 0 fails after step " + step + " (--fail-once-at)");
    }

    private static Map<String, List<Batch>> evalSets(Spec spec, int seqLen) throws IOException {
        if (spec.evalData() == null) {
            return Map.of();
        }
        Tokenizer tok = TokenShards.tokenizer(Path.of(spec.shards()));
        List<Document> docs = Corpus.open(Path.of(spec.evalData())).load();
        return Evaluation.capped(Evaluation.windows(docs, tok, seqLen, spec.batch()), spec.evalRows());
    }

    /** SHA-256 of the final weights, parameter by parameter in the state dict's order. */
    static String fingerprint(Trainer.Result r) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, Tensor> e : r.model().lm().stateDict().entrySet()) {
                md.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                float[] v = e.getValue().toArray();
                ByteBuffer b = ByteBuffer.allocate(v.length * 4);
                b.asFloatBuffer().put(v);
                md.update(b.array());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String digest(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Lines from replica 0 to the driver's console, over one TCP connection. */
    static final class ProgressRelay implements AutoCloseable {
        private final ServerSocket server;
        private final Thread reader;

        ProgressRelay(InetAddress host, PrintStream log) throws IOException {
            server = RingAllReduce.listen(host);
            reader = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept();
                         BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
                                 StandardCharsets.UTF_8))) {
                        for (String line = in.readLine(); line != null; line = in.readLine()) {
                            log.println(line);
                        }
                    } catch (IOException e) {
                        // closed, or a replica went away: the next attempt connects again
                    }
                }
            }, "lory4j-progress-relay");
            reader.setDaemon(true);
            reader.start();
        }

        String address() {
            return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
        }

        static Socket connect(String address) throws IOException {
            int colon = address.lastIndexOf(':');
            return new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
