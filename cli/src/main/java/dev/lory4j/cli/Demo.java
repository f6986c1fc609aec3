package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.PackingMetrics;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.SimilarityBatching;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.inspect.DemoReport;
import dev.lory4j.moe.inspect.LabelledBatch;
import dev.lory4j.moe.inspect.RoutingReport;
import dev.lory4j.moe.inspect.RunStats;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.ConsoleProgress;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.moe.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The main job: on the bundled corpus, pack similarity-ordered training sequences, train a dense model and a
 * Lory model (dense warm-up, then upcycling) on the same batches, evaluate held-out perplexity per domain, and
 * write checkpoints, metrics and an HTML report with the loss curves, per-domain perplexity, routing heat maps
 * per layer and domain, and expert usage.
 */
public final class Demo {
    private Demo() {}

    /**
     * Settings of a demo run; {@link #defaults()} targets ~10 minutes on 2 cores, {@link #quick()} ~2.
     *
     * @param smokeTest the run only checks that the pipeline works: its perplexities are printed without a verdict
     */
    public record Options(int steps, int batch, int seqLen, int hidden, int layers, int heads, int intermediate,
                          int experts, int segment, float lr, int evalRows, long seed, Path out, boolean resume,
                          boolean smokeTest) {
        /** About 10 minutes on 2 cores. */
        public static Options defaults() {
            return new Options(800, 8, 256, 128, 4, 4, 344, 8, 64, 3e-3f, 16, 42, Path.of("runs", "demo"), false,
                    false);
        }

        /** About 2 minutes on 2 cores: a smoke test, too short to compare the models. */
        public static Options quick() {
            return new Options(80, 8, 256, 128, 4, 4, 344, 8, 64, 3e-3f, 8, 42, Path.of("runs", "demo-quick"), false,
                    true);
        }

        /** The options as a JSON object (paths as strings). */
        public Map<String, Object> toMap() {
            return recordMap(this);
        }
    }

    /** A record's components as a JSON object, in declaration order (paths as strings, non-finite numbers null). */
    static Map<String, Object> recordMap(Record r) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (java.lang.reflect.RecordComponent c : r.getClass().getRecordComponents()) {
            try {
                Object v = c.getAccessor().invoke(r);
                m.put(c.getName(), v instanceof Path p ? p.toString() : v instanceof Number n ? finite(n) : v);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + r.getClass().getSimpleName() + "." + c.getName(), e);
            }
        }
        return m;
    }

    /** A number for JSON: null when NaN or infinite (JSON has no such numbers). */
    static Number finite(Number n) {
        return (n instanceof Double || n instanceof Float) && !Double.isFinite(n.doubleValue()) ? null : n;
    }

    /** Trains one model into {@code dir}, continuing its checkpoint there when {@code resume} and it exists. */
    private static Trainer.Result train(Trainer t, Path dir, boolean resume) throws IOException {
        Path ckpt = dir.resolve("latest.safetensors");
        return resume && Files.exists(ckpt) ? t.resume(ckpt) : t.run();
    }

    /** The version the CLI reports ({@code lory4j --version}). */
    static String version() {
        return Main.class.getAnnotation(picocli.CommandLine.Command.class).version()[0];
    }

    /** Runs the demo, printing progress and the final table to {@code out}; returns the per-domain table. */
    public static Map<String, double[]> run(Options o, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(o.out());
        if (o.smokeTest()) {
            out.printf(Locale.ROOT, "a smoke test: %d steps check that the whole pipeline runs; they are too few to "
                    + "compare dense and Lory (run the demo without --quick for that)%n", o.steps());
        }
        Tokenizer tok = new ByteTokenizer();
        Corpus corpus = Corpus.bundled();
        List<Document> train = corpus.split(Split.TRAIN).load();
        List<Document> held = corpus.split(Split.HELDOUT).load();
        dev.lory4j.tensor.spi.Backend backend = dev.lory4j.tensor.spi.Backends.current();
        int threads = dev.lory4j.tensor.kernels.Parallel.threads();
        out.printf(Locale.ROOT, "backend: %s on %s, %d CPU threads%n", backend.name(), backend.deviceName(), threads);
        out.printf(Locale.ROOT, "corpus: %d training and %d held-out documents in %d domains%n", train.size(),
                held.size(), corpus.domainCounts().size());

        // Similarity batching (spec §6): embed, kNN, greedy walk, dedup; then pack L + 1 token rows.
        SimilarityBatching.Result order = SimilarityBatching.defaults().order(train);
        Packer packer = new Packer(tok, o.seqLen() + 1);
        PackedSequences packed = packer.pack(train, order.order());
        PackedSequences random = packer.packRandom(train, o.seed());
        Map<String, Integer> rowOf = PackingMetrics.rowsById(train.stream().map(Document::id).toList());
        PackingMetrics similar = PackingMetrics.measure(packed, order.embeddings(), rowOf);
        PackingMetrics shuffled = PackingMetrics.measure(random, order.embeddings(), rowOf);
        out.printf(Locale.ROOT, "similarity batching: %d sequences of %d tokens; adjacent-document cosine %.3f "
                        + "(random packing %.3f), domain purity %.3f (random %.3f)%n", packed.size(), o.seqLen(),
                similar.meanAdjacentCosine(), shuffled.meanAdjacentCosine(), similar.meanPurity(),
                shuffled.meanPurity());

        double unigram = unigramEntropy(packed);
        out.printf(Locale.ROOT, "unigram entropy of the training tokens: %.3f nats/token (a model that beats it has "
                + "learned more than token frequencies)%n", unigram);
        Map<String, List<LabelledBatch>> labelled = evalSets(held, tok, o);
        Map<String, List<Batch>> eval = new LinkedHashMap<>();
        labelled.forEach((d, list) -> eval.put(d, list.stream().map(LabelledBatch::batch).toList()));
        DecoderConfig dc = new DecoderConfig(tok.vocabSize(), o.hidden(), o.layers(), o.heads(), o.intermediate(),
                1e-5f, 10000, false, o.seqLen(), 0.02f, true);
        MoeConfig denseCfg = MoeConfig.dense(dc);
        MoeConfig loryCfg = MoeConfig.lory(dc, o.experts(), o.segment());
        TrainConfig tc = TrainConfig.defaults(o.steps(), o.lr()).withEvalEvery(Math.max(1, o.steps() / 4))
                .withCheckpoints(null, 0);

        int every = Math.max(1, o.steps() / 20);
        out.printf(Locale.ROOT, "dense: %,d parameters; lory: %,d parameters (%d experts, segment %d), same "
                        + "active size%n", new MoeModel(denseCfg, new dev.lory4j.tensor.Rng(0)).lm().parameterCount(),
                new MoeModel(loryCfg, new dev.lory4j.tensor.Rng(0)).lm().parameterCount(), o.experts(), o.segment());
        int checkpointEvery = Math.max(1, o.steps() / 10); // a killed demo continues with --resume
        long denseStart = System.nanoTime();
        Trainer.Result dense = train(new Trainer(denseCfg, tc.withCheckpoints(o.out().resolve("dense"),
                checkpointEvery), new PackedBatchSource(packed, o.batch(), o.seed()), eval,
                new ConsoleProgress(out, "dense", every)), o.out().resolve("dense"), o.resume());
        long loryStart = System.nanoTime();
        Trainer.Result lory = train(new Trainer(loryCfg, tc.withCheckpoints(o.out().resolve("lory"),
                checkpointEvery), new PackedBatchSource(packed, o.batch(), o.seed()), eval,
                new ConsoleProgress(out, "lory ", every)), o.out().resolve("lory"), o.resume());
        long loryEnd = System.nanoTime();

        // What the experts learned: routing weights on held-out text, per layer and domain.
        List<LabelledBatch> all = new ArrayList<>();
        labelled.values().forEach(all::addAll);
        RoutingTrace trace = RoutingReport.trace(lory.model(), all);

        Map<String, double[]> table = new TreeMap<>();
        Map<String, Double> dp = dense.evals().get(dense.evals().size() - 1).perplexity();
        Map<String, Double> lp = lory.evals().get(lory.evals().size() - 1).perplexity();
        for (String d : dp.keySet()) {
            table.put(d, new double[] {dp.get(d), lp.getOrDefault(d, Double.NaN)});
        }
        printTable(table, o, out);
        Files.writeString(o.out().resolve("routing.csv"), trace.toCsv());
        Files.writeString(o.out().resolve("routing.json"), trace.toJson());

        List<String> domains = new ArrayList<>(eval.keySet());
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("version", version());
        metrics.put("smoke_test", o.smokeTest());
        metrics.put("seed", o.seed());
        metrics.put("backend", ordered("name", backend.name(), "device", backend.deviceName(),
                "cpu_threads", threads));
        metrics.put("wall_seconds", named(((loryStart - denseStart) / 1e9), (loryEnd - loryStart) / 1e9,
                "total", (System.nanoTime() - t0) / 1e9));
        metrics.put("tokens_per_second", named(RunStats.tokensPerSecond(dense.steps()),
                RunStats.tokensPerSecond(lory.steps()), null, 0));
        Map<String, Object> params = new LinkedHashMap<>();
        for (Trainer.Result r : List.of(dense, lory)) {
            params.put(r == dense ? "dense" : "lory", ordered("total",
                    r.model().lm().parameterCount(), "active", RunStats.activeParameters(r.model())));
        }
        metrics.put("parameters", params);
        metrics.put("options", o.toMap());
        metrics.put("training", recordMap(tc));
        metrics.put("model_config", ordered("dense", denseCfg.toMap(), "lory", loryCfg.toMap()));
        Map<String, Object> packing = new LinkedHashMap<>();
        packing.put("adjacent_cosine_similarity", similar.meanAdjacentCosine());
        packing.put("adjacent_cosine_random", shuffled.meanAdjacentCosine());
        packing.put("purity_similarity", similar.meanPurity());
        packing.put("purity_random", shuffled.meanPurity());
        metrics.put("packing", packing);
        metrics.put("unigram_entropy_nats", unigram);
        Map<String, Object> ppl = new LinkedHashMap<>();
        table.forEach((d, v) -> ppl.put(d, named(v[0], v[1], null, 0)));
        metrics.put("perplexity", ppl);
        metrics.put("eval_history", ordered("dense", history(dense), "lory", history(lory)));
        metrics.put("upcycle_step", RunStats.upcycleStep(lory.steps()));
        metrics.put("mutual_information_bits", RoutingReport.mutualInformation(trace, o.experts(), domains));
        metrics.put("loss", ordered("dense", losses(dense), "lory", losses(lory)));
        Files.writeString(o.out().resolve("metrics.json"), Json.write(metrics));
        Path report = DemoReport.write(o.out(), metrics, new DemoReport.Inputs(dense, lory, trace, domains,
                RoutingReport.samples(held, 4 * o.segment()), tok, o.seqLen(), similar, shuffled, o.smokeTest()));
        out.printf(Locale.ROOT, "%nfinal training loss (mean of the last 10 steps): dense %.3f, lory %.3f nats/token; "
                + "unigram entropy %.3f%n", tail(dense), tail(lory), unigram);
        out.printf(Locale.ROOT, "%nreport: %s (checkpoints, metrics.json and routing.csv beside it); %.1f minutes%n",
                report, (System.nanoTime() - t0) / 60e9);
        return table;
    }

    /** The per-domain perplexities; the change column only when the run is long enough to compare. */
    private static void printTable(Map<String, double[]> table, Options o, PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "%-12s %12s %12s%s%n", "domain", "dense ppl", "lory ppl",
                o.smokeTest() ? "" : String.format(Locale.ROOT, " %8s", "change"));
        for (Map.Entry<String, double[]> e : table.entrySet()) {
            double[] v = e.getValue();
            out.printf(Locale.ROOT, "%-12s %12.3f %12.3f%s%n", e.getKey(), v[0], v[1], o.smokeTest() ? ""
                    : String.format(Locale.ROOT, " %+7.1f%%", 100 * (v[1] / v[0] - 1)));
        }
        if (o.smokeTest()) {
            out.printf(Locale.ROOT, "(no change column: %d steps are too few for a comparison; this was a smoke test)"
                    + "%n", o.steps());
        }
    }

    /** {"dense": dense, "lory": lory} plus {@code extra} when it is not null, non-finite values null. */
    private static Map<String, Object> named(double dense, double lory, String extra, double extraValue) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("dense", finite(dense));
        m.put("lory", finite(lory));
        if (extra != null) {
            m.put(extra, finite(extraValue));
        }
        return m;
    }

    /** A JSON object of these key, value pairs in this order. */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /** The periodic evaluations of a run: [{step, perplexity: {domain: x, all: y}, loss: {...}}]. */
    private static List<Object> history(Trainer.Result r) {
        List<Object> out = new ArrayList<>();
        for (Trainer.EvalResult e : r.evals()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", e.step());
            m.put("perplexity", new LinkedHashMap<>(e.perplexity()));
            m.put("loss", new LinkedHashMap<>(e.loss()));
            out.add(m);
        }
        return out;
    }

    private static double tail(Trainer.Result r) {
        int n = r.steps().size();
        double s = 0;
        for (int i = Math.max(0, n - 10); i < n; i++) {
            s += r.steps().get(i).loss();
        }
        return s / Math.min(n, 10);
    }

    /** Entropy (nats) of the token frequencies of the packed training stream. */
    static double unigramEntropy(PackedSequences packed) {
        long[] counts = new long[1 << 16];
        long total = 0;
        for (int i = 0; i < packed.size(); i++) {
            for (int t : packed.tokens(i)) {
                counts[t]++;
                total++;
            }
        }
        double h = 0;
        for (long c : counts) {
            if (c > 0) {
                double p = (double) c / total;
                h -= p * Math.log(p);
            }
        }
        return h;
    }

    private static List<Double> losses(Trainer.Result r) {
        return java.util.Arrays.stream(RunStats.losses(r.steps())).boxed().toList();
    }

    /**
     * Held-out documents of each domain packed into at most {@code evalRows} rows of L + 1 tokens, with the documents
     * and offsets of their tokens.
     */
    private static Map<String, List<LabelledBatch>> evalSets(List<Document> held, Tokenizer tok, Options o) {
        Map<String, List<Document>> byDomain = new TreeMap<>();
        held.forEach(d -> byDomain.computeIfAbsent(d.domain(), k -> new ArrayList<>()).add(d));
        Map<String, List<LabelledBatch>> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Document>> e : byDomain.entrySet()) {
            PackedSequences p = new Packer(tok, o.seqLen() + 1).packRandom(e.getValue(), o.seed());
            int rows = Math.min(p.size(), o.evalRows());
            List<LabelledBatch> batches = new ArrayList<>();
            for (int start = 0; start < rows; start += o.batch()) {
                int[] seqs = new int[Math.min(o.batch(), rows - start)];
                for (int i = 0; i < seqs.length; i++) {
                    seqs[i] = start + i;
                }
                batches.add(LabelledBatch.packed(p, seqs));
            }
            if (!batches.isEmpty()) {
                out.put(e.getKey(), batches);
            }
        }
        return out;
    }
}
