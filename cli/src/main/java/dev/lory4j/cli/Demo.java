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

    /** Settings of a demo run; {@link #defaults()} targets ~10 minutes on 2 cores, {@link #quick()} ~2. */
    public record Options(int steps, int batch, int seqLen, int hidden, int layers, int heads, int intermediate,
                          int experts, int segment, float lr, int evalRows, long seed, Path out, boolean resume) {
        /** About 10 minutes on 2 cores. */
        public static Options defaults() {
            return new Options(800, 8, 256, 128, 4, 4, 344, 8, 64, 3e-3f, 16, 42, Path.of("runs", "demo"), false);
        }

        /** About 2 minutes on 2 cores. */
        public static Options quick() {
            return new Options(80, 8, 256, 128, 4, 4, 344, 8, 64, 3e-3f, 8, 42, Path.of("runs", "demo-quick"), false);
        }
    }

    /** Trains one model into {@code dir}, continuing its checkpoint there when {@code resume} and it exists. */
    private static Trainer.Result train(Trainer t, Path dir, boolean resume) throws IOException {
        Path ckpt = dir.resolve("latest.safetensors");
        return resume && Files.exists(ckpt) ? t.resume(ckpt) : t.run();
    }

    /** Runs the demo, printing progress and the final table to {@code out}; returns the per-domain table. */
    public static Map<String, double[]> run(Options o, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(o.out());
        Tokenizer tok = new ByteTokenizer();
        Corpus corpus = Corpus.bundled();
        List<Document> train = corpus.split(Split.TRAIN).load();
        List<Document> held = corpus.split(Split.HELDOUT).load();
        dev.lory4j.tensor.spi.Backend backend = dev.lory4j.tensor.spi.Backends.current();
        out.printf(Locale.ROOT, "backend: %s on %s, %d CPU threads%n", backend.name(), backend.deviceName(),
                dev.lory4j.tensor.kernels.Parallel.threads());
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
                similar.meanAdjacentCosine(), shuffled.meanAdjacentCosine(), similar.meanPurity(), shuffled.meanPurity());

        double unigram = unigramEntropy(packed);
        out.printf(Locale.ROOT, "unigram entropy of the training tokens: %.3f nats/token (a model that beats it has "
                + "learned more than token frequencies)%n", unigram);
        Map<String, List<Batch>> eval = evalSets(held, tok, o);
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
        Trainer.Result dense = train(new Trainer(denseCfg, tc.withCheckpoints(o.out().resolve("dense"),
                checkpointEvery), new PackedBatchSource(packed, o.batch(), o.seed()), eval,
                new ConsoleProgress(out, "dense", every)), o.out().resolve("dense"), o.resume());
        Trainer.Result lory = train(new Trainer(loryCfg, tc.withCheckpoints(o.out().resolve("lory"),
                checkpointEvery), new PackedBatchSource(packed, o.batch(), o.seed()), eval,
                new ConsoleProgress(out, "lory ", every)), o.out().resolve("lory"), o.resume());

        // What the experts learned: routing weights on held-out text, per layer and domain.
        RoutingTrace trace = dev.lory4j.moe.inspect.RoutingReport.trace(lory.model(), eval);

        Map<String, double[]> table = new TreeMap<>();
        Map<String, Double> dp = dense.evals().get(dense.evals().size() - 1).perplexity();
        Map<String, Double> lp = lory.evals().get(lory.evals().size() - 1).perplexity();
        for (String d : dp.keySet()) {
            table.put(d, new double[] {dp.get(d), lp.getOrDefault(d, Double.NaN)});
        }
        out.println();
        out.printf(Locale.ROOT, "%-12s %12s %12s %8s%n", "domain", "dense ppl", "lory ppl", "change");
        for (Map.Entry<String, double[]> e : table.entrySet()) {
            double[] v = e.getValue();
            out.printf(Locale.ROOT, "%-12s %12.3f %12.3f %+7.1f%%%n", e.getKey(), v[0], v[1], 100 * (v[1] / v[0] - 1));
        }
        Files.writeString(o.out().resolve("routing.csv"), trace.toCsv());
        Files.writeString(o.out().resolve("routing.json"), trace.toJson());
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("options", o.toString());
        metrics.put("adjacent_cosine_similarity_packing", similar.meanAdjacentCosine());
        metrics.put("adjacent_cosine_random_packing", shuffled.meanAdjacentCosine());
        metrics.put("purity_similarity_packing", similar.meanPurity());
        metrics.put("purity_random_packing", shuffled.meanPurity());
        Map<String, Object> ppl = new LinkedHashMap<>();
        table.forEach((d, v) -> ppl.put(d, List.of(v[0], v[1])));
        metrics.put("perplexity_dense_lory", ppl);
        metrics.put("unigram_entropy_nats", unigram);
        metrics.put("loss_dense", losses(dense));
        metrics.put("loss_lory", losses(lory));
        Files.writeString(o.out().resolve("metrics.json"), Json.write(metrics));
        Path report = DemoReport.write(o.out(), dense, lory, table, trace, o.layers(), o.experts(),
                new ArrayList<>(eval.keySet()), similar, shuffled);
        out.printf(Locale.ROOT, "%nfinal training loss (mean of the last 10 steps): dense %.3f, lory %.3f nats/token; "
                + "unigram entropy %.3f%n", tail(dense), tail(lory), unigram);
        out.printf(Locale.ROOT, "%nreport: %s (checkpoints, metrics.json and routing.csv beside it); %.1f minutes%n",
                report, (System.nanoTime() - t0) / 60e9);
        return table;
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
        List<Double> l = new ArrayList<>();
        r.steps().forEach(s -> l.add((double) s.loss()));
        return l;
    }

    /** Held-out documents of each domain packed into at most {@code evalRows} rows of L + 1 tokens. */
    private static Map<String, List<Batch>> evalSets(List<Document> held, Tokenizer tok, Options o) {
        Map<String, List<Document>> byDomain = new TreeMap<>();
        held.forEach(d -> byDomain.computeIfAbsent(d.domain(), k -> new ArrayList<>()).add(d));
        Map<String, List<Batch>> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Document>> e : byDomain.entrySet()) {
            PackedSequences p = new Packer(tok, o.seqLen() + 1).packRandom(e.getValue(), o.seed());
            int rows = Math.min(p.size(), o.evalRows());
            List<Batch> batches = new ArrayList<>();
            for (int start = 0; start < rows; start += o.batch()) {
                int n = Math.min(o.batch(), rows - start);
                int[] tokens = new int[n * (o.seqLen() + 1)];
                int[] seqs = new int[n];
                for (int i = 0; i < n; i++) {
                    seqs[i] = start + i;
                    p.copyTokens(start + i, tokens, i * (o.seqLen() + 1));
                }
                batches.add(PackedBatchSource.toBatch(p, tokens, seqs, n, o.seqLen() + 1));
            }
            if (!batches.isEmpty()) {
                out.put(e.getKey(), batches);
            }
        }
        return out;
    }
}
