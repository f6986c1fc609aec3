package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.SimilarityBatching;
import dev.lory4j.data.batch.TokenShards;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.ConsoleProgress;
import dev.lory4j.moe.train.Evaluation;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.ProgressListener;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.moe.train.Trainer;
import dev.lory4j.tensor.Rng;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j train}: a model trained on the user's data into a run directory. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a model on your data: a JSONL or JSONL.gz file (a 'text' field, optional 'domain', 'id' "
                + "and 'split'), a directory of text files (domain = sub-directory), 'bundled' (the corpus inside "
                + "lory4j), or packed rows (a directory with shards.json, written by lory4j spark batch: its tokenizer "
                + "and order are used, evaluation reads --eval-data or its heldout.jsonl).",
            "Writes RUN/config.json, tokenizer.json, run.json, latest.safetensors (every --checkpoint-every steps, at "
                + "the end and on Ctrl-C) and metrics.json. --resume RUN continues a run exactly."})
final class TrainCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--data", description = "Training data: a .jsonl/.jsonl.gz file, a directory, 'bundled', or a "
            + "directory of packed rows (shards.json, e.g. from lory4j spark batch).")
    String data;

    @Option(names = "--eval-data", description = "Evaluation data (default: the held-out split of --data, 5%% of "
            + "the documents by hash unless they carry a 'split').")
    String evalData;

    @Option(names = "--out", description = "The run directory to create.")
    Path out;

    @Option(names = "--resume", paramLabel = "RUN", description = "Continue the run in RUN (its options come from "
            + "RUN/run.json).")
    Path resume;

    @Option(names = "--force", description = "Start over in an --out directory that already holds a run.")
    boolean force;

    @Option(names = "--config", description = "The model as a config.json (Hugging Face keys plus moe_kind, "
            + "num_experts, segment_length, ...); vocab_size defaults to the tokenizer's.")
    Path config;

    @Option(names = "--kind", description = "dense, lory, topk or expert_choice (default lory).")
    String kind;

    @Option(names = "--hidden", description = "Model width (default 128).")
    Integer hidden;

    @Option(names = "--layers", description = "Decoder layers (default 4).")
    Integer layers;

    @Option(names = "--heads", description = "Attention heads (default 4).")
    Integer heads;

    @Option(names = "--intermediate", description = "Feed-forward width (default 8/3 of the width, rounded to 8).")
    Integer intermediate;

    @Option(names = "--experts", description = "Experts per MoE layer (default 8).")
    Integer experts;

    @Option(names = "--segment", description = "Lory segment length T (default 64).")
    Integer segment;

    @Option(names = "--top-k", description = "Experts per token of a top-k model (default 2).")
    Integer topK;

    @Option(names = "--tokenizer", description = "byte, bpe (trained on the training data) or a tokenizer.json "
            + "(default byte).")
    String tokenizer;

    @Option(names = "--vocab", description = "Vocabulary size of a BPE tokenizer trained here (default 1024).")
    Integer vocab;

    @Option(names = "--batching", description = "similarity (In-Context Pretraining's ordering) or random "
            + "(default similarity).")
    String batching;

    @Option(names = "--seq", description = "Sequence length (default 256).")
    Integer seq;

    @Option(names = "--batch", description = "Sequences per step (default 8).")
    Integer batch;

    @Option(names = "--steps", description = "Optimizer steps (default 800).")
    Integer steps;

    @Option(names = "--lr", description = "Peak learning rate (default 3e-3).")
    Float lr;

    @Option(names = "--seed", description = "Seed of initialisation and data order (default 42).")
    Long seed;

    @Option(names = "--eval-every", description = "Evaluate every N steps (default a quarter of the steps).")
    Integer evalEvery;

    @Option(names = "--eval-rows", description = "Evaluation windows per domain (default 64).")
    Integer evalRows;

    @Option(names = "--checkpoint-every", description = "Checkpoint every N steps (default a tenth of the steps).")
    Integer checkpointEvery;

    @Option(names = "--dense-warmup", description = "Fraction of the steps a Lory model trains dense before its "
            + "experts are copied from the FFN (default 0.05).")
    Float denseWarmup;

    @Option(names = "--stop-after", hidden = true, description = "Stop after this step as Ctrl-C does (for tests).")
    Integer stopAfter;

    @Override
    public Integer call() throws Exception {
        PrintStream log = main.out;
        RunDir run;
        Map<String, Object> o;
        RunOptions ro;
        Tokenizer tok;
        List<Document> train;
        List<Document> held;
        MoeConfig model;
        if (resume != null) {
            refuseOptionsBesidesResume();
            run = RunDir.existing(resume);
            RunDir.checkWritable(run.dir());
            o = run.options();
            if (o.isEmpty()) {
                throw new IllegalArgumentException(resume + " has no " + RunDir.OPTIONS + ": not a run of lory4j train");
            }
            ro = RunOptions.read(o, run.file(RunDir.OPTIONS).toString()); // checked before anything is used
            tok = run.tokenizer(null);
            train = documents(ro, true);
            held = documents(ro, false);
            Path cfg = run.file(RunDir.CONFIG);
            try {
                model = MoeConfig.fromMap(Json.parseObject(Files.readString(cfg), cfg.toString()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(cfg + ": " + e.getMessage(), e);
            }
        } else {
            if (data == null || out == null) {
                throw new IllegalArgumentException("--data and --out are required (or --resume RUN)");
            }
            run = RunDir.fresh(out, force);
            o = options();
            ro = RunOptions.read(o, run.file(RunDir.OPTIONS).toString());
            train = documents(ro, true);
            held = documents(ro, false);
            if (train == null) {
                log.printf(Locale.ROOT, "data: packed rows in %s, %d documents for evaluation%n", data, held.size());
                tok = TokenShards.tokenizer(Path.of(ro.data()));
            } else {
                log.printf(Locale.ROOT, "data: %d training documents, %d for evaluation%n", train.size(), held.size());
                tok = DataArgs.tokenizer(ro.tokenizer(), ro.vocab(), train, log);
            }
            model = modelConfig(tok, ro.seq());
            tok.save(run.file(RunDir.TOKENIZER));
            run.writeJson(RunDir.CONFIG, model.toMap());
            o.put("tokenizer", "file");
            run.writeJson(RunDir.OPTIONS, o);
        }
        int seqLen = ro.seq();
        int rows = ro.batch();
        int total = ro.steps();
        long seedValue = ro.seed();
        if (model.decoder().vocabSize() < tok.vocabSize()) {
            throw new IllegalArgumentException("the model's vocab_size " + model.decoder().vocabSize()
                    + " is smaller than the tokenizer's " + tok.vocabSize());
        }
        Packer packer = new Packer(tok, seqLen + 1);
        PackedSequences packed;
        if (ro.batching().equals("shards")) {
            packed = TokenShards.read(Path.of(ro.data()));
        } else if (ro.batching().equals("random")) {
            packed = packer.packRandom(train, seedValue);
        } else {
            log.println("similarity batching: embedding, nearest neighbours and the traversal ...");
            packed = packer.pack(train, SimilarityBatching.defaults().order(train).order());
        }
        if (packed.size() < rows) {
            throw new IllegalArgumentException("the training data make " + packed.size() + " sequences of "
                    + (seqLen + 1) + " tokens, fewer than one batch of " + rows);
        }
        Map<String, List<Batch>> eval = held.isEmpty() ? Map.of()
                : Evaluation.capped(Evaluation.windows(held, tok, seqLen, rows), ro.evalRows());
        TrainConfig tc = TrainConfig.builder().steps(total).lr(ro.lr()).seed(seedValue).evalEvery(ro.evalEvery())
                .checkpoints(run.dir(), ro.checkpointEvery()).denseWarmupFraction(ro.denseWarmup()).build();
        log.printf(Locale.ROOT, "model: %s, %,d parameters; %d sequences of %d tokens (%s batching), batch %d, %d "
                        + "steps; tokenizer %s%n", model.kind().key(),
                new MoeModel(model, new Rng(0)).lm().parameterCount(), packed.size(), seqLen, ro.batching(), rows,
                total, tok.describe());
        Trainer[] self = new Trainer[1];
        ProgressListener progress = new ConsoleProgress(log, "train", Math.max(1, total / 50)).afterStep(step -> {
            if (stopAfter != null && step.step() + 1 >= stopAfter) {
                self[0].requestStop();
            }
        });
        Trainer trainer = new Trainer(model, tc, new PackedBatchSource(packed, rows, seedValue), eval, progress);
        self[0] = trainer;
        Trainer.Result result = runStoppable(trainer, run);
        writeMetrics(run, result);
        if (trainer.stopped()) {
            log.printf(Locale.ROOT, "stopped at step %d of %d; continue with: lory4j train --resume %s%n",
                    trainer.step(), total, run.dir());
            return 130;
        }
        if (!result.evals().isEmpty()) {
            Trainer.EvalResult last = result.evals().get(result.evals().size() - 1);
            log.printf(Locale.ROOT, "held-out perplexity: %.3f (all domains)%n", last.perplexity().get("all"));
        }
        log.printf(Locale.ROOT, "run: %s (checkpoint %s; try lory4j eval, generate, inspect, export on it)%n",
                run.dir(), RunDir.CHECKPOINT);
        return 0;
    }

    /** Runs or resumes the trainer; Ctrl-C asks it to stop after the current step and waits for its checkpoint. */
    private Trainer.Result runStoppable(Trainer trainer, RunDir run) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            trainer.requestStop();
            try {
                done.await(5, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "lory4j-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return resume != null ? trainer.resume(run.checkpoint()) : trainer.run();
        } finally {
            done.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: the JVM exits after it
            }
        }
    }

    private void refuseOptionsBesidesResume() {
        List<String> given = new ArrayList<>();
        Object[][] all = {{"--stop-after", null}, {"--data", data}, {"--eval-data", evalData}, {"--out", out}, {"--config", config},
            {"--kind", kind}, {"--hidden", hidden}, {"--layers", layers}, {"--heads", heads},
            {"--intermediate", intermediate}, {"--experts", experts}, {"--segment", segment}, {"--top-k", topK},
            {"--tokenizer", tokenizer}, {"--vocab", vocab}, {"--batching", batching}, {"--seq", seq},
            {"--batch", batch}, {"--steps", steps}, {"--lr", lr}, {"--seed", seed}, {"--eval-every", evalEvery},
            {"--eval-rows", evalRows}, {"--checkpoint-every", checkpointEvery}, {"--dense-warmup", denseWarmup}};
        for (Object[] a : all) {
            if (a[1] != null) {
                given.add((String) a[0]);
            }
        }
        if (!given.isEmpty() || force) {
            throw new IllegalArgumentException("--resume continues a run with the options in its " + RunDir.OPTIONS
                    + "; drop " + String.join(", ", force ? List.of("--force") : given));
        }
    }

    /** The options of a new run, defaults filled in and checked. */
    private Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("data", data.equals(DataArgs.BUNDLED) ? data : Path.of(data).toAbsolutePath().toString());
        o.put("eval_data", evalData == null ? null : Path.of(evalData).toAbsolutePath().toString());
        o.put("tokenizer", tokenizer == null ? "byte" : tokenizer);
        o.put("vocab", DemoCommand.positive("--vocab", vocab, 1024));
        String b = batching == null ? "similarity" : batching;
        if (!b.equals("similarity") && !b.equals("random")) {
            throw new IllegalArgumentException("--batching '" + b + "' is not one of similarity, random");
        }
        o.put("batching", b);
        int total = DemoCommand.positive("--steps", steps, 800);
        Integer shardSeq = shardSeq(data);
        if (shardSeq != null) {
            if (seq != null && !seq.equals(shardSeq)) {
                throw new IllegalArgumentException("--seq " + seq + " differs from the rows of " + data + " ("
                        + (shardSeq + 1) + " tokens: sequences of " + shardSeq + "); drop --seq");
            }
            if (tokenizer != null || batching != null) {
                throw new IllegalArgumentException(data + " holds packed rows with their tokenizer and order; drop "
                        + (tokenizer != null ? "--tokenizer" : "--batching"));
            }
            o.put("batching", "shards");
        }
        o.put("seq", shardSeq != null ? shardSeq : DemoCommand.positive("--seq", seq, 256));
        o.put("batch", DemoCommand.positive("--batch", batch, 8));
        o.put("steps", total);
        float rate = lr == null ? 3e-3f : lr;
        if (!(rate > 0)) {
            throw new IllegalArgumentException("--lr must be positive, got " + rate);
        }
        o.put("lr", rate);
        o.put("seed", seed == null ? 42L : seed);
        o.put("eval_every", nonNegative("--eval-every", evalEvery, Math.max(1, total / 4)));
        o.put("eval_rows", DemoCommand.positive("--eval-rows", evalRows, 64));
        o.put("checkpoint_every", DemoCommand.positive("--checkpoint-every", checkpointEvery, Math.max(1, total / 10)));
        float warm = denseWarmup == null ? 0.05f : denseWarmup;
        if (!(warm >= 0 && warm < 1)) {
            throw new IllegalArgumentException("--dense-warmup must be in [0, 1), got " + warm);
        }
        o.put("dense_warmup", warm);
        return o;
    }

    /** The options of a run as run.json holds them, read strictly (a damaged file names the key at fault). */
    private record RunOptions(String data, String evalData, String tokenizer, int vocab, String batching, int seq,
                              int batch, int steps, float lr, long seed, int evalEvery, int evalRows,
                              int checkpointEvery, float denseWarmup) {
        static RunOptions read(Map<String, Object> o, String what) {
            dev.lory4j.autograd.io.ConfigMap c = new dev.lory4j.autograd.io.ConfigMap(what, o);
            int max = Integer.MAX_VALUE;
            String data = c.string("data", null);
            if (data == null) {
                throw new IllegalArgumentException(what + ": 'data' is missing");
            }
            String batching = c.string("batching", "similarity");
            if (!batching.equals("similarity") && !batching.equals("random") && !batching.equals("shards")) {
                throw new IllegalArgumentException(what + ": 'batching' must be similarity, random or shards, got \""
                        + batching + "\"");
            }
            RunOptions r = new RunOptions(data, c.string("eval_data", null), c.string("tokenizer", "byte"),
                    c.integer("vocab", 1024, 1, max), batching, c.integer("seq", null, 1, max),
                    c.integer("batch", null, 1, max), c.integer("steps", null, 1, max),
                    (float) c.real("lr", 3e-3, 0, true, 1e3), c.longInteger("seed", 42),
                    c.integer("eval_every", 0, 0, max), c.integer("eval_rows", 64, 1, max),
                    c.integer("checkpoint_every", 1, 1, max), (float) c.real("dense_warmup", 0.05, 0, false, 0.999999));
            c.checkAllRead();
            return r;
        }
    }

    private static int nonNegative(String option, Integer value, int byDefault) {
        if (value != null && value < 0) {
            throw new IllegalArgumentException("option " + option + " must not be negative, got " + value);
        }
        return value == null ? byDefault : value;
    }

    /** The sequence length of the rows in shard directory {@code data} (null: not a shard directory). */
    private static Integer shardSeq(String data) {
        if (data == null || data.equals(DataArgs.BUNDLED) || !TokenShards.isShardDirectory(Path.of(data))) {
            return null;
        }
        try {
            return TokenShards.manifest(Path.of(data)).rowTokens() - 1;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e.getMessage(), e);
        }
    }

    /**
     * The training documents ({@code training}) or the evaluation documents of the run's options. A shard directory
     * holds no training documents (null); its evaluation documents are --eval-data's or its heldout.jsonl (empty
     * when it has none).
     */
    private static List<Document> documents(RunOptions o, boolean training) {
        if (o.batching().equals("shards")) {
            if (training) {
                return null;
            }
            Path held = Path.of(o.data()).resolve("heldout.jsonl");
            return o.evalData() != null ? DataArgs.documents(o.evalData(), null)
                    : java.nio.file.Files.exists(held) ? DataArgs.documents(held.toString(), null) : List.of();
        }
        if (o.evalData() == null) {
            return DataArgs.documents(o.data(), training ? Split.TRAIN : Split.HELDOUT);
        }
        return DataArgs.documents(training ? o.data() : o.evalData(), null);
    }

    /** The model from --config or the flags, for this tokenizer and sequence length. */
    private MoeConfig modelConfig(Tokenizer tok, int seqLen) throws java.io.IOException {
        MoeConfig c;
        if (config != null) {
            Map<String, Object> m = new LinkedHashMap<>(Json.parseObject(Files.readString(config), config.toString()));
            m.putIfAbsent("vocab_size", tok.vocabSize());
            m.putIfAbsent("max_position_embeddings", seqLen);
            try {
                c = MoeConfig.fromMap(m);
            } catch (IllegalArgumentException | ClassCastException ex) {
                throw new IllegalArgumentException(config + ": " + ex.getMessage(), ex);
            }
        } else {
            int h = DemoCommand.positive("--hidden", hidden, 128);
            DecoderConfig d = DecoderConfig.builder().vocabSize(tok.vocabSize()).hiddenSize(h)
                    .numLayers(DemoCommand.positive("--layers", layers, 4))
                    .numHeads(DemoCommand.positive("--heads", heads, 4))
                    .intermediateSize(DemoCommand.positive("--intermediate", intermediate,
                            DecoderConfig.swigluIntermediate(h)))
                    .maxPositions(seqLen).initStd(0.02f).scaledInit(true).build();
            MoeKind k = MoeKind.parse(kind == null ? "lory" : kind);
            MoeConfig lory = MoeConfig.lory(d, DemoCommand.positive("--experts", experts, 8),
                    DemoCommand.positive("--segment", segment, 64));
            c = k == MoeKind.DENSE ? MoeConfig.dense(d) : lory.withKind(k);
            if (k == MoeKind.TOPK) {
                c = new MoeConfig(d, k, c.numExperts(), c.segmentLength(), c.moeLayers(), c.routerBias(),
                        DemoCommand.positive("--top-k", topK, 2), c.routingMode(), c.routerInitStd(),
                        c.auxLossCoef(), c.capacityFactor());
            }
        }
        if (c.decoder().maxPositions() < seqLen) {
            throw new IllegalArgumentException("--seq " + seqLen + " exceeds the model's max_position_embeddings "
                    + c.decoder().maxPositions());
        }
        return c;
    }

    private static void writeMetrics(RunDir run, Trainer.Result r) throws java.io.IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        // a resumed run's result holds the steps before the resume too, without their timings: metrics.json, when
        // it was written by the run before, still has those
        Map<Integer, Object> before = new java.util.HashMap<>();
        Path old = run.file(RunDir.METRICS);
        if (Files.exists(old) && Json.parseObject(Files.readString(old), old.toString()).get("steps") instanceof List<?> l) {
            for (Object e : l) {
                if (e instanceof Map<?, ?> map && map.get("step") instanceof Number n) {
                    before.put(n.intValue(), map);
                }
            }
        }
        List<Object> steps = new ArrayList<>();
        for (Trainer.StepLog s : r.steps()) {
            if (Double.isNaN(s.tokensPerSecond()) && before.containsKey(s.step())) {
                steps.add(before.get(s.step()));
                continue;
            }
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("step", s.step());
            e.put("loss", s.loss());
            e.put("lr", s.lr());
            e.put("grad_norm", s.gradNorm());
            e.put("tokens_per_second", Double.isNaN(s.tokensPerSecond()) ? null : s.tokensPerSecond());
            e.put("phase", s.phase());
            steps.add(e);
        }
        m.put("steps", steps);
        List<Map<String, Object>> evals = new ArrayList<>();
        for (Trainer.EvalResult e : r.evals()) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("step", e.step());
            v.put("loss", e.loss());
            v.put("perplexity", e.perplexity());
            evals.add(v);
        }
        m.put("evals", evals);
        run.writeJson(RunDir.METRICS, m);
    }
}
