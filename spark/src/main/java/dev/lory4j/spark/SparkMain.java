package dev.lory4j.spark;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.Rng;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lory4j spark batch|train|demo}: the similarity-batching pipeline and data-parallel training on Spark, on
 * this machine (executor processes, local-cluster) or, through {@code spark-submit}, on a cluster.
 */
@Command(name = "lory4j spark", mixinStandardHelpOptions = true,
        subcommands = {SparkMain.Batch.class, SparkMain.Train.class, SparkMain.Demo.class, SparkMain.AllReduce.class},
        description = "Scale-out on Apache Spark: the data pipeline as a Spark job and data-parallel training.")
public final class SparkMain implements Callable<Integer> {
    PrintStream out = System.out;

    /** Runs a command; the exit status is the command's. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command with the given streams; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        SparkMain main = new SparkMain();
        main.out = out;
        CommandLine cl = new CommandLine(main);
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setExecutionExceptionHandler((e, line, parse) -> {
            err.println("lory4j spark " + line.getCommandName() + ": " + message(e));
            return 1;
        });
        return cl.execute(args);
    }

    static String message(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null
                || t instanceof java.lang.reflect.InvocationTargetException)) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    @Override
    public Integer call() {
        new CommandLine(this).usage(out);
        return 0;
    }

    /** Options every command shares. */
    static class SparkOptions {
        @Option(names = "--master", description = "Spark master (default: spark-submit's, else local-cluster[W,1,2048]: "
                + "W worker processes on this machine).")
        String master;

        @Option(names = "--workers", description = "Executor processes of the default local cluster, and training "
                + "replicas (default 2).")
        int workers = 2;
    }

    /** {@code lory4j spark batch}. */
    @Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Embed, find nearest neighbours, order (ICP traversal), deduplicate and pack documents into "
                    + "shards of token rows that 'lory4j train --data' and 'lory4j spark train' read.")
    static final class Batch implements Callable<Integer> {
        @CommandLine.ParentCommand
        SparkMain main;
        @CommandLine.Mixin
        SparkOptions spark;

        @Option(names = "--data", required = true, description = "JSONL/JSONL.gz or Parquet (file or directory) with "
                + "a 'text' field and optional 'id', 'domain', 'split' (any path or URI Spark reads); or 'bundled' "
                + "(copied to a local temporary file: for executors on this machine).")
        String data;

        @Option(names = "--format", description = "json, parquet or auto (by the name; default auto).")
        String format = "auto";

        @Option(names = "--out", required = true, description = "The shard directory to create.")
        Path out;

        @Option(names = "--tokenizer", description = "byte or a tokenizer.json (default byte).")
        String tokenizer = "byte";

        @Option(names = "--seq", description = "Sequence length; rows hold seq + 1 tokens (default 256).")
        int seq = 256;

        @Option(names = "--k", description = "Neighbours per document (default 10).")
        int k = 10;

        @Option(names = "--lists", description = "Inverted lists of the kNN search (default: documents / "
                + "--cluster-docs; 1 = exact search).")
        int lists = 0;

        @Option(names = "--cluster-docs", description = "Documents per list when --lists is not given (default 2000).")
        int clusterDocs = 2000;

        @Option(names = "--walk-docs", description = "Documents per traversal partition: consecutive lists are walked "
                + "together up to this many (default 200000; more keeps more neighbour edges, fewer spreads the walk).")
        int walkDocs = 200_000;

        @Option(names = "--probes", description = "Lists searched per document (default 4).")
        int probes = 4;

        @Option(names = "--partitions", description = "Partitions of the document stages (default 8).")
        int partitions = 8;

        @Option(names = "--rows-per-shard", description = "Rows per shard file (default 4096).")
        int rowsPerShard = 4096;

        @Override
        public Integer call() throws Exception {
            SimilarityPipeline.Spec spec = spec(); // checked before Spark starts
            try (SparkSession s = Sessions.start("lory4j batch", spark.master, spark.workers, 2048)) {
                s.sparkContext().setLogLevel("WARN");
                SimilarityPipeline.run(s, spec, main.out);
            }
            return 0;
        }

        SimilarityPipeline.Spec spec() throws java.io.IOException {
            if (seq < 1) {
                throw new IllegalArgumentException("--seq " + seq + " must be positive");
            }
            String input = data.equals("bundled") ? bundledCopy().toString() : data;
            if (!data.equals("bundled") && !data.contains("://") && !Files.exists(Path.of(data))) {
                throw new IllegalArgumentException("--data " + data + " does not exist");
            }
            Tokenizer tok = tokenizer.equals("byte") ? new ByteTokenizer() : Tokenizer.load(Path.of(tokenizer));
            Path tmp = Files.createTempFile("lory4j-tokenizer", ".json");
            try {
                tok.save(tmp);
                SimilarityPipeline.Spec d = SimilarityPipeline.Spec.defaults(input, out.toAbsolutePath().toString(),
                        Files.readAllBytes(tmp), seq + 1);
                return new SimilarityPipeline.Spec(d.input(), format, d.out(), d.tokenizerJson(), d.rowTokens(), k, lists,
                        clusterDocs, walkDocs, probes, d.iterations(), d.seed(), d.dedupThreshold(), d.dedupPrefix(),
                        d.heldoutFraction(), partitions, rowsPerShard, false);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** The bundled corpus as a file executors can read. */
    static Path bundledCopy() throws java.io.IOException {
        Path f = Files.createTempFile("lory4j-bundled", ".jsonl.gz");
        f.toFile().deleteOnExit();
        try (InputStream in = Corpus.class.getClassLoader().getResourceAsStream(Corpus.BUNDLED_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(Corpus.BUNDLED_RESOURCE + " is not on the class path");
            }
            Files.copy(in, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return f;
    }

    /** {@code lory4j spark train}. */
    @Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Data-parallel training on a Spark barrier stage: one replica per worker, gradients summed by "
                    + "a ring all-reduce every step; the result equals one process on the same global batch.",
                "Writes OUT/latest.safetensors (replica 0, atomically) and resumes from it after a failed stage."})
    static final class Train implements Callable<Integer> {
        @CommandLine.ParentCommand
        SparkMain main;
        @CommandLine.Mixin
        SparkOptions spark;

        @Option(names = "--data", required = true, description = "A shard directory (lory4j spark batch); on a cluster "
                + "a path every executor sees.")
        Path data;

        @Option(names = "--out", required = true, description = "The run directory (shared like --data).")
        Path out;

        @Option(names = "--kind", description = "dense, lory, topk or expert_choice (default lory).")
        String kind = "lory";

        @Option(names = "--hidden", description = "Model width (default 128).")
        int hidden = 128;

        @Option(names = "--layers", description = "Decoder layers (default 4).")
        int layers = 4;

        @Option(names = "--heads", description = "Attention heads (default 4).")
        int heads = 4;

        @Option(names = "--experts", description = "Experts per MoE layer (default 8).")
        int experts = 8;

        @Option(names = "--segment", description = "Lory segment length T (default 64).")
        int segment = 64;

        @Option(names = "--batch", description = "Rows of the global batch, shared by the replicas (default 8).")
        int batch = 8;

        @Option(names = "--steps", description = "Optimizer steps (default 200).")
        int steps = 200;

        @Option(names = "--lr", description = "Peak learning rate (default 3e-3).")
        float lr = 3e-3f;

        @Option(names = "--seed", description = "Seed of initialisation and batch order (default 42).")
        long seed = 42;

        @Option(names = "--dense-warmup", description = "Share of the steps trained dense before upcycling "
                + "(default 0.05).")
        float denseWarmup = 0.05f;

        @Option(names = "--checkpoint-every", description = "Steps between checkpoints (default a tenth).")
        Integer checkpointEvery;

        @Option(names = "--eval-every", description = "Steps between evaluations (default: at the end).")
        int evalEvery = 0;

        @Option(names = "--eval-rows", description = "Evaluation rows per domain (default 16).")
        int evalRows = 16;

        @Option(names = "--eval-data", description = "Held-out documents (default: --data's heldout.jsonl).")
        Path evalData;

        @Option(names = "--timeout", description = "Seconds a replica waits for a peer (default 600).")
        int timeout = 600;

        @Option(names = "--attempts", description = "Stage attempts before giving up (default 3).")
        int attempts = 3;

        @Option(names = "--fail-once-at", description = "Fault drill: replica 0 fails once after this step.")
        int failOnceAt = -1;

        DataParallelTraining.Spec spec() throws java.io.IOException {
            if (!TokenShards.isShardDirectory(data)) {
                throw new IllegalArgumentException("--data " + data + " is not a shard directory (no "
                        + TokenShards.MANIFEST + "); make one with lory4j spark batch");
            }
            int rowTokens = TokenShards.manifest(data).rowTokens();
            Tokenizer tok = TokenShards.tokenizer(data);
            DecoderConfig d = DecoderConfig.builder().vocabSize(tok.vocabSize()).hiddenSize(hidden).numLayers(layers)
                    .numHeads(heads).intermediateSize(DecoderConfig.swigluIntermediate(hidden))
                    .maxPositions(rowTokens - 1).initStd(0.02f).scaledInit(true).build();
            MoeKind k = MoeKind.parse(kind);
            MoeConfig lory = MoeConfig.lory(d, experts, segment);
            MoeConfig model = k == MoeKind.DENSE ? MoeConfig.dense(d) : lory.withKind(k);
            Path held = evalData != null ? evalData : data.resolve("heldout.jsonl");
            return new DataParallelTraining.Spec(data.toAbsolutePath().toString(), out.toAbsolutePath().toString(),
                    Json.write(model.toMap()), steps, batch, lr, seed, k == MoeKind.DENSE ? 0 : denseWarmup,
                    checkpointEvery != null ? checkpointEvery : Math.max(1, steps / 10), evalEvery, evalRows,
                    Files.exists(held) ? held.toAbsolutePath().toString() : null, spark.workers, timeout, attempts,
                    failOnceAt);
        }

        @Override
        public Integer call() throws Exception {
            DataParallelTraining.Spec spec = spec();
            MoeConfig model = spec.model();
            main.out.printf(Locale.ROOT, "model: %s, %,d parameters; %d replicas share batches of %d rows; %d steps%n",
                    model.kind().key(), new MoeModel(model, new Rng(0)).lm().parameterCount(), spec.workers(),
                    spec.batch(), spec.steps());
            try (SparkSession s = Sessions.start("lory4j train", spark.master, spark.workers, 2048)) {
                s.sparkContext().setLogLevel("WARN");
                report(DataParallelTraining.run(JavaSparkContext.fromSparkContext(s.sparkContext()), spec, main.out),
                        spec, main.out);
            }
            return 0;
        }
    }

    static void report(DataParallelTraining.Result r, DataParallelTraining.Spec spec, PrintStream out) {
        out.printf(Locale.ROOT, "all-reduce: %,.0f bytes sent per replica per step, %.1f ms of %.1f ms per step; "
                        + "%d replica(s) ended with identical weights (sha-256 %s...)%s%n", r.bytesPerStep(),
                r.reduceSecondsPerStep() * 1e3, r.stepSeconds() * 1e3, r.fingerprints().size(),
                r.fingerprints().getFirst().substring(0, 12), r.attempts() > 1 ? "; recovered after "
                        + (r.attempts() - 1) + " failed attempt(s)" : "");
        out.printf(Locale.ROOT, "run: %s (checkpoint latest.safetensors: lory4j eval, generate, inspect work on it)%n",
                spec.out());
    }

    /** {@code lory4j spark demo}. */
    @Command(name = "demo", mixinStandardHelpOptions = true,
            description = "The pipeline on the bundled corpus, then a two-replica data-parallel Lory training on it, "
                    + "both on executor processes on this machine.")
    static final class Demo implements Callable<Integer> {
        @CommandLine.ParentCommand
        SparkMain main;
        @CommandLine.Mixin
        SparkOptions spark;

        @Option(names = "--out", description = "Output directory (default runs/spark-demo).")
        Path out = Path.of("runs", "spark-demo");

        @Option(names = "--steps", description = "Training steps (default 60).")
        int steps = 60;

        @Option(names = "--force", description = "Replace an earlier demo's output.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            Path shards = out.resolve("shards");
            Path run = out.resolve("run");
            if (Files.exists(out)) {
                if (!force) {
                    throw new IllegalArgumentException(out + " exists; pass --force to replace it");
                }
                try (var walk = Files.walk(out)) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            Batch b = new Batch();
            b.main = main;
            b.spark = spark;
            b.data = "bundled";
            b.out = shards;
            Train t = new Train();
            t.main = main;
            t.spark = spark;
            t.data = shards;
            t.out = run;
            t.steps = steps;
            t.hidden = 64;
            t.layers = 2;
            t.heads = 2;
            t.experts = 4;
            t.segment = 32;
            b.seq = 128;
            b.clusterDocs = 200; // a few lists and walk partitions, to show both on a small corpus
            b.walkDocs = 400;
            b.probes = 2;
            t.evalEvery = 0;
            t.evalRows = 8;
            long t0 = System.nanoTime();
            try (SparkSession s = Sessions.start("lory4j spark demo", spark.master, spark.workers, 1024)) {
                s.sparkContext().setLogLevel("WARN");
                main.out.printf(Locale.ROOT, "spark %s, master %s, %d executor(s)%n", s.version(),
                        s.sparkContext().master(), spark.workers);
                SimilarityPipeline.run(s, b.spec(), main.out);
                DataParallelTraining.Spec spec = t.spec();
                main.out.printf(Locale.ROOT, "model: %s, %,d parameters; %d replicas share batches of %d rows%n",
                        spec.model().kind().key(), new MoeModel(spec.model(), new Rng(0)).lm().parameterCount(),
                        spec.workers(), spec.batch());
                report(DataParallelTraining.run(JavaSparkContext.fromSparkContext(s.sparkContext()), spec, main.out),
                        spec, main.out);
            }
            main.out.printf(Locale.ROOT, "spark demo done in %.1f minutes: shards in %s, run in %s%n",
                    (System.nanoTime() - t0) / 60e9, shards, run);
            return 0;
        }
    }

    /** {@code lory4j spark allreduce}. */
    @Command(name = "allreduce", mixinStandardHelpOptions = true,
            description = "Measures the ring all-reduce of data-parallel training: bytes and time per sum on 2..N "
                    + "workers (one Spark session of each size; executor processes here unless --master is given).")
    static final class AllReduce implements Callable<Integer> {
        @CommandLine.ParentCommand
        SparkMain main;

        @Option(names = "--master", description = "Spark master (default local-cluster[W,1,1024] for each W).")
        String master;

        @Option(names = "--workers", split = ",", description = "Worker counts (default 2,3,4).")
        int[] workers = {2, 3, 4};

        @Option(names = "--floats", split = ",", description = "Buffer sizes in floats (default 336961,4000001).")
        int[] floats = {336_961, 4_000_001};

        @Option(names = "--reps", description = "Timed sums per size (default 20).")
        int reps = 20;

        @Override
        public Integer call() throws Exception {
            main.out.printf(Locale.ROOT, "%-8s %12s %16s %12s %12s%n", "workers", "floats", "bytes/replica", "ms/sum",
                    "MB/s/replica");
            for (int w : workers) {
                try (SparkSession s = Sessions.start("lory4j allreduce", master, w, 1024)) {
                    s.sparkContext().setLogLevel("WARN");
                    for (AllReduceBench.Row r : AllReduceBench.run(JavaSparkContext.fromSparkContext(s.sparkContext()),
                            w, floats, reps)) {
                        main.out.printf(Locale.ROOT, "%-8d %,12d %,16.0f %12.2f %12.1f%n", w, r.floats(),
                                r.bytesPerSum(), r.secondsPerSum() * 1e3, r.bytesPerSum() / r.secondsPerSum() / 1e6);
                    }
                }
            }
            return 0;
        }
    }
}
