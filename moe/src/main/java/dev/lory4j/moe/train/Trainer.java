package dev.lory4j.moe.train;

import dev.lory4j.autograd.Anomaly;
import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.tensor.spi.Backends;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.autograd.io.Checkpoint;
import dev.lory4j.autograd.nn.Layer;
import dev.lory4j.autograd.nn.SwiGLU;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.autograd.optim.GradClip;
import dev.lory4j.autograd.optim.WarmupCosine;
import dev.lory4j.moe.ExpertChoiceLayer;
import dev.lory4j.moe.LoryLayer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.TopKMoeLayer;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Trains a {@link MoeModel}: AdamW, linear warm-up then cosine decay, gradient clipping, periodic held-out
 * evaluation (loss and perplexity per domain), atomic checkpoints with exact resume, progress with tokens/s and
 * ETA, and a clear stop on a non-finite loss.
 *
 * <p>MoE models start with a dense warm-up (spec §2.8): for the first {@link TrainConfig#upcycleStep()} steps a
 * parameter-matched dense model is trained; then every MoE layer's experts become copies of that layer's FFN,
 * its router is drawn at random (never zero, spec F9), all other weights carry over, and the optimizer keeps
 * the moments of the carried-over weights (the experts and routers start with fresh moments).
 */
public final class Trainer {
    /** One optimizer step. */
    public record StepLog(int step, float loss, double lr, double gradNorm, double tokensPerSecond, String phase) {}

    /** Held-out loss and perplexity per domain (key "all" for the token-weighted total). */
    public record EvalResult(int step, Map<String, Double> loss, Map<String, Double> perplexity) {}

    /** Thrown when the loss stops being finite; names the step and (when found) the op that produced it. */
    public static final class NonFiniteLossException extends IllegalStateException {
        NonFiniteLossException(String message) {
            super(message);
        }
    }

    /** What a run produced. */
    public record Result(MoeModel model, List<StepLog> steps, List<EvalResult> evals) {}

    private static final String PHASE_DENSE = "dense";
    private static final String PHASE_MOE = "moe";
    private static final int IGNORE = dev.lory4j.autograd.nn.DecoderLM.IGNORE_INDEX;

    private final MoeConfig target;
    private final TrainConfig tc;
    private final BatchSource data;
    private final Map<String, List<Batch>> evalSets;
    private final ProgressListener progress;
    private final WarmupCosine schedule;

    private MoeModel model;
    private final List<StepLog> logs = new ArrayList<>(); // the run's steps so far (restored by a resume)
    private final List<EvalResult> evals = new ArrayList<>();
    private MoeModel given;
    private AdamW givenOptimizer;
    private volatile boolean stopRequested;
    /** Traced steps by batch shape (unless {@code -Dlory4j.capture=false}); cleared when the model changes. */
    private final CapturedSteps captured = new CapturedSteps();
    private AdamW optimizer;
    private DataParallel parallel;
    private String phase;
    private int step;

    /** A trainer for {@code target} on {@code data}, evaluating on {@code evalSets} (domain -> batches). */
    public Trainer(MoeConfig target, TrainConfig tc, BatchSource data, Map<String, List<Batch>> evalSets,
                   ProgressListener progress) {
        this.target = target;
        this.tc = tc;
        this.data = data;
        this.evalSets = evalSets == null ? Map.of() : evalSets;
        this.progress = progress == null ? ProgressListener.silent() : progress;
        this.schedule = new WarmupCosine(tc.lr(), tc.minLr(), Math.round(tc.steps() * tc.warmupFraction()),
                tc.steps());
    }

    /**
     * A trainer for a model (and optionally an optimizer; null: AdamW with {@code tc}'s settings) the caller built:
     * trained as it is, without the dense warm-up and upcycling of {@link #Trainer(MoeConfig, TrainConfig,
     * BatchSource, Map, ProgressListener)}.
     */
    public Trainer(MoeModel model, AdamW optimizer, TrainConfig tc, BatchSource data,
                   Map<String, List<Batch>> evalSets, ProgressListener progress) {
        this(model.config(), tc, data, evalSets, progress);
        this.given = model;
        this.givenOptimizer = optimizer;
    }

    private boolean warmsUpDense() {
        return target.kind() != MoeKind.DENSE && tc.upcycleStep() > 0;
    }

    private MoeConfig phaseConfig(String p) {
        return p.equals(PHASE_DENSE) ? MoeConfig.dense(target.decoder()) : target;
    }

    private AdamW newOptimizer(MoeModel m) {
        return new AdamW(m.lm().namedParameters(), tc.lr(), tc.beta1(), tc.beta2(), 1e-8f, tc.weightDecay());
    }

    /**
     * Checks what a checkpoint says before anything is restored: its model config is this run's (every key that
     * changes the computation; both values named on a mismatch), its step and optimizer steps lie in range, and its
     * data position is a non-negative integer.
     */
    private void checkResumable(Path checkpoint, Checkpoint.Loaded c, String phase) throws IOException {
        MoeConfig saved;
        try {
            saved = MoeConfig.fromMap(c.config());
        } catch (IllegalArgumentException e) {
            throw new IOException("resume: " + checkpoint + ": " + e.getMessage(), e);
        }
        Map<String, Object> want = given != null ? given.config().toMap() : phaseConfig(phase).toMap();
        Map<String, Object> got = saved.toMap();
        for (Map.Entry<String, Object> e : want.entrySet()) {
            if (!e.getKey().equals("routing_mode") && !java.util.Objects.equals(e.getValue(), got.get(e.getKey()))) {
                throw new IOException("resume: " + checkpoint + " was trained with '" + e.getKey() + "' = "
                        + got.get(e.getKey()) + ", this run has " + e.getValue());
            }
        }
        long step = c.state().step();
        if (step < 0 || step > tc.steps()) {
            throw new IOException("resume: " + checkpoint + " is at step " + step + ", outside this run's [0, "
                    + tc.steps() + "]");
        }
        if (c.optimizerSteps() < 0 || c.optimizerSteps() > step) {
            throw new IOException("resume: " + checkpoint + " holds " + c.optimizerSteps() + " optimizer steps at step "
                    + step + " (must be in [0, " + step + "])");
        }
        if (c.state().rngPosition() < 0 || c.state().rngSeed() != tc.seed() && c.state().rngSeed() != 0) {
            throw new IOException("resume: " + checkpoint + " holds RNG seed " + c.state().rngSeed() + " at position "
                    + c.state().rngPosition() + "; this run's seed is " + tc.seed() + " (positions are >= 0)");
        }
        dataPosition(checkpoint, c);
    }

    /** The checkpoint's data position (a non-negative integer; 0 when absent). */
    private static long dataPosition(Path checkpoint, Checkpoint.Loaded c) throws IOException {
        String v = c.state().extra().getOrDefault("data_position", "0");
        try {
            long p = Long.parseLong(v);
            if (p >= 0) {
                return p;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IOException("resume: " + checkpoint + ": metadata 'data_position' must be a non-negative integer, "
                + "got '" + v + "'");
    }

    /**
     * Asks a running {@link #run()} or {@link #resume} to stop after the step in progress: it writes its checkpoint
     * (where it has a directory) and returns. Safe from another thread, e.g. a shutdown hook on Ctrl-C.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /** Whether the last run stopped early at {@link #requestStop()}. */
    public boolean stopped() {
        return stopRequested && step < tc.steps();
    }

    /**
     * Makes this trainer one replica of data-parallel training (null: alone): each step trains on the replica's rows
     * of the global batch and sums gradients through {@code dp}. Steps run op by op. Returns this trainer.
     */
    public Trainer dataParallel(DataParallel dp) {
        if (dp != null && dp.replicas() > 1 && tc.checkpointDir() != null && dp.rank() != 0) {
            throw new IllegalArgumentException("Trainer.dataParallel: replica " + dp.rank() + " has a checkpoint "
                    + "directory; only replica 0 writes checkpoints");
        }
        this.parallel = dp;
        return this;
    }

    /** The optimizer steps taken so far. */
    public int step() {
        return step;
    }

    /** Trains from scratch. */
    public Result run() {
        phase = given == null && warmsUpDense() ? PHASE_DENSE : PHASE_MOE;
        model = given != null ? given : new MoeModel(phaseConfig(phase), new Rng(tc.seed()));
        captured.clear();
        optimizer = givenOptimizer != null ? givenOptimizer : newOptimizer(model);
        step = 0;
        logs.clear();
        evals.clear();
        data.seek(0);
        return loop();
    }

    /** Continues the run saved in {@code checkpoint}: same model, optimizer moments, step and data position. */
    public Result resume(Path checkpoint) throws IOException {
        Checkpoint.Loaded c = Checkpoint.load(checkpoint);
        String p = c.state().extra().get("phase");
        if (p == null || !(p.equals(PHASE_DENSE) || p.equals(PHASE_MOE))) {
            throw new IOException("resume: " + checkpoint + " has no valid training phase (" + p + ")");
        }
        if (given != null && !p.equals(PHASE_MOE)) {
            throw new IOException("resume: " + checkpoint + " was saved in the dense warm-up; resume it with a trainer "
                    + "that builds its model from the config");
        }
        checkResumable(checkpoint, c, p);
        phase = p;
        model = given != null ? given : new MoeModel(phaseConfig(phase), new Rng(tc.seed()));
        captured.clear();
        optimizer = givenOptimizer != null ? givenOptimizer : newOptimizer(model);
        c.restore(model.lm(), optimizer);
        step = (int) c.state().step();
        data.seek(dataPosition(checkpoint, c));
        logs.clear();
        evals.clear();
        restoreHistory(checkpoint, c);
        progress.onMessage("resumed from " + checkpoint + " at step " + step + " (" + phase + ")");
        return loop();
    }

    /** Removes what a crashed checkpoint write left in the checkpoint directory (never a finished checkpoint). */
    private void removeStaleWrites() {
        if (tc.checkpointDir() == null) {
            return;
        }
        try {
            int n = Checkpoint.removeStaleTemporaries(tc.checkpointDir());
            if (n > 0) {
                progress.onMessage("removed " + n + " unfinished checkpoint write(s) from " + tc.checkpointDir());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + tc.checkpointDir() + ": " + e.getMessage(), e);
        }
    }

    private Result loop() {
        removeStaleWrites();
        long started = System.nanoTime();
        int firstStep = step;
        model.lm().train(true);
        model.setRoutingMode(RoutingMode.CAUSAL_SEGMENT);
        while (step < tc.steps() && !stopRequested) {
            if (phase.equals(PHASE_DENSE) && step >= tc.upcycleStep()) {
                upcycle();
            }
            long t0 = System.nanoTime();
            Batch b = data.next();
            double lr = schedule.lr(step);
            optimizer.setLr((float) lr);
            optimizer.zeroGrad();
            // the step: loss, gradients, clipping and the update, the update only when the loss and the clipping norm
            // (the finiteness check of the gradients: one pass over them, done anyway) are finite
            CapturedSteps.StepResult r = parallel != null ? replicaStep(b)
                    : capturesSteps() ? capturedStep(b) : eagerStep(b);
            float value = r.loss();
            double norm = r.norm();
            if (!Float.isFinite(value)) {
                throw new NonFiniteLossException("training stopped at step " + step + ": loss is " + value
                        + " (lr " + lr + ")" + locateAnomaly(b));
            }
            if (!Double.isFinite(norm)) {
                throw new NonFiniteLossException("training stopped at step " + step + ": the loss " + value
                        + " is finite but the gradient norm is " + norm + " (first: " + firstNonFiniteGradient()
                        + "; lr " + lr + "); the update was not applied" + locateBackwardAnomaly(b));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            String label = phase.equals(PHASE_DENSE) ? "dense" : target.kind().key();
            StepLog log = new StepLog(step, value, lr, norm, b.batch() * b.seqLen() / seconds, label);
            logs.add(log);
            step++;
            double perStep = (System.nanoTime() - started) / 1e9 / (step - firstStep);
            progress.onStep(log, tc.steps(), perStep * (tc.steps() - step));
            if (tc.evalEvery() > 0 && step % tc.evalEvery() == 0 && step < tc.steps()) {
                evals.add(evaluate());
            }
            if (tc.checkpointDir() != null && tc.checkpointEvery() > 0 && step % tc.checkpointEvery() == 0) {
                save(tc.checkpointDir().resolve("latest.safetensors"));
            }
        }
        if (!evalSets.isEmpty() && !stopRequested && (evals.isEmpty() || evals.getLast().step() != step)) {
            evals.add(evaluate());
        }
        if (tc.checkpointDir() != null) {
            save(tc.checkpointDir().resolve("latest.safetensors"));
            if (stopRequested) {
                progress.onMessage("stopped at step " + step + "; checkpoint " + tc.checkpointDir()
                        .resolve("latest.safetensors") + " (resume continues from here)");
            }
        }
        return new Result(model, List.copyOf(logs), List.copyOf(evals));
    }

    /** A step on batch b with the model's ops run one by one: loss, gradients, clipping, update (when finite). */
    private CapturedSteps.StepResult eagerStep(Batch b) {
        Var loss = model.loss(b.tokens(), b.targets(), b.batch(), b.seqLen(), IGNORE);
        float value = loss.item();
        if (!Float.isFinite(value)) {
            return new CapturedSteps.StepResult(value, Double.NaN);
        }
        loss.backward();
        return clipAndStep(value);
    }

    /** Clips the gradients and takes the optimizer step when their norm is finite; the loss and the norm. */
    private CapturedSteps.StepResult clipAndStep(float loss) {
        double norm = GradClip.clipGradNorm(model.lm().parameters(), tc.clipNorm());
        if (Double.isFinite(norm)) {
            optimizer.step();
        }
        return new CapturedSteps.StepResult(loss, norm);
    }

    /**
     * A data-parallel step: loss and gradients of this replica's rows weighted by their share of the batch's counted
     * tokens, summed over the replicas with the loss in one all-reduce, then clipping and the update (when finite),
     * the same on every replica.
     */
    private CapturedSteps.StepResult replicaStep(Batch b) {
        if (b.batch() < parallel.replicas()) {
            throw new IllegalArgumentException("data-parallel step " + step + ": a batch of " + b.batch() + " rows "
                    + "cannot be shared by " + parallel.replicas() + " replicas");
        }
        Batch mine = b.rows(parallel.from(b.batch()), parallel.to(b.batch()));
        long all = Evaluation.counted(b);
        long own = Evaluation.counted(mine);
        float share = all == 0 ? 0f : (float) ((double) own / all);
        List<Var> params = model.lm().parameters();
        float value = 0f;
        if (own > 0) {
            Var loss = model.loss(mine.tokens(), mine.targets(), mine.batch(), mine.seqLen(), IGNORE);
            value = loss.item();
            if (Float.isFinite(value)) {
                loss.backward();
            }
        }
        int total = 0;
        for (Var p : params) {
            total += p.data().numel();
        }
        float[] buf = new float[total + 1];
        int off = 0;
        for (Var p : params) {
            int n = p.data().numel();
            if (p.grad() != null) {
                float[] g = p.grad().toArray();
                for (int i = 0; i < n; i++) {
                    buf[off + i] = g[i] * share;
                }
            }
            off += n;
        }
        buf[total] = own > 0 ? value * share : 0f;
        parallel.reduce().sum(buf);
        value = buf[total];
        if (!Float.isFinite(value)) {
            return new CapturedSteps.StepResult(value, Double.NaN);
        }
        off = 0;
        for (Var p : params) {
            int n = p.data().numel();
            p.setGrad(Tensor.fromArray(java.util.Arrays.copyOfRange(buf, off, off + n), p.shape()));
            off += n;
        }
        return clipAndStep(value);
    }

    /**
     * Whether training steps are traced once per batch shape and replayed (the default: the same results bit for
     * bit, with buffers reused from step to step instead of fresh arrays for the garbage collector), or run eagerly
     * ({@code -Dlory4j.capture=false}; a backend that compiles captured steps always captures); read per step.
     */
    public static boolean capturesSteps() {
        return !"false".equalsIgnoreCase(System.getProperty("lory4j.capture", "true").strip())
                || CapturedSteps.compilerFor(Backends.current()) != null;
    }

    /**
     * A step on batch b from the traced graph of this batch shape (the first batch of a shape is traced: an eager
     * step that records itself), then clipping and the update (inside the compiled step on a device). Same results
     * as the eager step.
     */
    private CapturedSteps.StepResult capturedStep(Batch b) {
        String shape = b.batch() + "x" + b.seqLen();
        return captured.runAndStep(shape + tracedKey(), model.lm().parameters(), Map.of("tokens", b.tokens(),
                "targets", b.targets()), () -> model.loss(b.tokens(), b.targets(), b.batch(), b.seqLen(), IGNORE),
                graph -> progress.onMessage("traced the training step for batches of " + shape + ": "
                        + graph.nodes().size() + " calls, " + (captured.compiled(shape + tracedKey()) ? "compiled for "
                        + Backends.current().deviceName() + " (every step runs there)"
                        : "replayed from the next step on")), optimizer, tc.clipNorm());
    }

    /** A traced step is another graph (its routing weights are outputs): the suffix of its keys. */
    private String tracedKey() {
        return model.trace() != null ? " traced" : "";
    }

    /** Re-runs the failing batch in anomaly mode to name the first op that produced NaN/Inf. */
    private String locateAnomaly(Batch b) {
        try (Anomaly a = Anomaly.enable(); NoGrad ng = NoGrad.enter()) {
            model.loss(b.tokens(), b.targets(), b.batch(), b.seqLen(), IGNORE);
            return "";
        } catch (Anomaly.AnomalyException e) {
            return "; first non-finite value from op '" + e.op() + "': " + e.getMessage();
        }
    }

    /**
     * The first parameter whose gradient makes the norm non-finite, with what its values are: NaN, infinite, or
     * finite but too large to square in float.
     */
    private String firstNonFiniteGradient() {
        Backend backend = Backends.current();
        for (Map.Entry<String, Var> e : model.lm().namedParameters().entrySet()) {
            Tensor g = e.getValue().grad();
            if (g != null && !Double.isFinite(backend.sumOfSquares(List.of(g)))) {
                float max = 0;
                boolean nan = false;
                for (float v : g.toArray()) {
                    nan |= Float.isNaN(v);
                    max = Math.max(max, Math.abs(v));
                }
                return "'" + e.getKey() + "' " + dev.lory4j.tensor.Shapes.str(g.shape()) + (nan ? " holds NaN"
                        : Float.isInfinite(max) ? " holds infinities" : " reaches " + max + ", whose square overflows");
            }
        }
        return "none found";
    }

    /** Re-runs the failing batch forward and backward in anomaly mode to name the first op that went non-finite. */
    private String locateBackwardAnomaly(Batch b) {
        try (Anomaly a = Anomaly.enable()) {
            model.lm().zeroGrad();
            model.loss(b.tokens(), b.targets(), b.batch(), b.seqLen(), IGNORE).backward();
            return "";
        } catch (Anomaly.AnomalyException e) {
            return "; first non-finite value from op '" + e.op() + "': " + e.getMessage();
        } finally {
            model.lm().zeroGrad();
        }
    }

    /** Dense warm-up is over: grow the MoE model from the dense one (spec §2.8). */
    private void upcycle() {
        MoeModel grown = new MoeModel(target, new Rng(tc.seed() + 1));
        Map<String, Tensor> dense = model.lm().stateDict();
        Map<String, Tensor> next = new LinkedHashMap<>(grown.lm().stateDict());
        dense.forEach((k, v) -> {
            if (next.containsKey(k)) {
                next.put(k, v);
            }
        });
        grown.lm().loadStateDict(next, true);
        Rng routerRng = new Rng(tc.seed() + 2);
        List<Layer> denseFfn = model.feedForwards();
        List<Layer> moeFfn = grown.feedForwards();
        for (int i = 0; i < moeFfn.size(); i++) {
            Layer l = moeFfn.get(i);
            SwiGLU d = (SwiGLU) denseFfn.get(i);
            if (l instanceof LoryLayer lory) {
                lory.upcycleFrom(d, target.routerInitStd(), routerRng);
            } else if (l instanceof TopKMoeLayer tk) {
                tk.experts().copyFromDense(d);
            } else if (l instanceof ExpertChoiceLayer ec) {
                ec.experts().copyFromDense(d);
            }
        }
        AdamW grownOpt = newOptimizer(grown);
        grownOpt.copyStateFrom(optimizer);
        model = grown;
        captured.clear();
        optimizer = grownOpt;
        phase = PHASE_MOE;
        model.lm().train(true);
        model.setRoutingMode(RoutingMode.CAUSAL_SEGMENT);
        progress.onMessage("step " + step + ": dense warm-up done, FFNs copied into " + target.numExperts()
                + " experts per MoE layer (" + target.kind().key() + ")");
    }

    /** Held-out loss per domain with training-style routing (causal segments), without recording a graph. */
    public EvalResult evaluate() {
        model.lm().eval();
        Map<String, Integer> shapes = new java.util.HashMap<>(); // batches per shape: compiled where two or more
        evalSets.values().forEach(l -> l.forEach(b -> shapes.merge(b.batch() + "x" + b.seqLen(), 1, Integer::sum)));
        Map<String, Double> loss = new LinkedHashMap<>();
        Map<String, Double> ppl = new LinkedHashMap<>();
        double total = 0;
        long tokens = 0;
        try (NoGrad ng = NoGrad.enter()) {
            for (Map.Entry<String, List<Batch>> e : evalSets.entrySet()) {
                double sum = 0;
                long n = 0;
                for (Batch b : e.getValue()) {
                    long counted = Evaluation.counted(b);
                    if (counted == 0) {
                        continue; // nothing to predict in this batch
                    }
                    float value = evalLoss(b, shapes.getOrDefault(b.batch() + "x" + b.seqLen(), 0) >= 2);
                    sum += value * (double) counted;
                    n += counted;
                }
                if (n > 0) {
                    loss.put(e.getKey(), sum / n);
                    ppl.put(e.getKey(), Math.exp(sum / n));
                    total += sum;
                    tokens += n;
                }
            }
        }
        if (tokens > 0) {
            loss.put("all", total / tokens);
            ppl.put("all", Math.exp(total / tokens));
        }
        model.lm().train(true);
        EvalResult r = new EvalResult(step, loss, ppl);
        progress.onEval(r);
        return r;
    }

    /**
     * The mean loss of an evaluation batch: compiled by the backend where it compiles steps ({@code compile}: a shape
     * the evaluation uses more than once, so the compile pays), else op by op.
     */
    private float evalLoss(Batch b, boolean compile) {
        Supplier<Var> loss = () -> model.lm().forward(b.tokens(), b.batch(), b.seqLen()).crossEntropy(b.targets(),
                IGNORE);
        Float compiled = compile ? captured.compiledLoss("eval " + b.batch() + "x" + b.seqLen() + tracedKey(),
                model.lm().parameters(), Map.of("tokens", b.tokens(), "targets", b.targets()), loss)
                : null;
        return compiled != null ? compiled : loss.get().item();
    }

    private void save(Path file) {
        try {
            Files.createDirectories(file.getParent());
            Map<String, String> extra = new LinkedHashMap<>();
            extra.put("phase", phase);
            extra.put("data_position", Long.toString(data.position()));
            extra.put("history", history());
            Checkpoint.save(file, model.lm(), model.config().toMap(), optimizer,
                    new Checkpoint.TrainState(step, tc.seed(), 0, extra));
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint at step " + step + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * The run's steps and evaluations so far as JSON, for the checkpoint: a resume gives back the whole history.
     * Tokens per second are left out (they are timings: a resumed run writes the same checkpoint as an uninterrupted one).
     */
    private String history() {
        List<Object> steps = new ArrayList<>();
        for (StepLog s : logs) {
            steps.add(List.of(s.step(), (double) s.loss(), s.lr(), s.gradNorm(), s.phase()));
        }
        List<Object> ev = new ArrayList<>();
        for (EvalResult e : evals) {
            Map<String, Object> m = new LinkedHashMap<>(); // ordered: the checkpoint's bytes are reproducible
            m.put("step", e.step());
            m.put("loss", new LinkedHashMap<>(e.loss()));
            m.put("perplexity", new LinkedHashMap<>(e.perplexity()));
            ev.add(m);
        }
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("steps", steps);
        h.put("evals", ev);
        return dev.lory4j.autograd.io.Json.write(h);
    }

    /** Restores the steps and evaluations a checkpoint's history holds (none for an older checkpoint). */
    @SuppressWarnings("unchecked")
    private void restoreHistory(Path checkpoint, Checkpoint.Loaded c) throws IOException {
        String h = c.state().extra().get("history");
        if (h == null) {
            return;
        }
        try {
            Map<String, Object> m = dev.lory4j.autograd.io.Json.parseObject(h, "history");
            for (Object o : (List<Object>) m.get("steps")) {
                List<Object> s = (List<Object>) o;
                logs.add(new StepLog(((Number) s.get(0)).intValue(), ((Number) s.get(1)).floatValue(),
                        ((Number) s.get(2)).doubleValue(), ((Number) s.get(3)).doubleValue(), Double.NaN,
                        (String) s.get(4)));
            }
            for (Object o : (List<Object>) m.get("evals")) {
                Map<String, Object> e = (Map<String, Object>) o;
                evals.add(new EvalResult(((Number) e.get("step")).intValue(), doubles(e.get("loss")),
                        doubles(e.get("perplexity"))));
            }
        } catch (RuntimeException e) {
            throw new IOException("resume: " + checkpoint + ": metadata 'history' is not a training history: "
                    + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Double> doubles(Object o) {
        Map<String, Double> out = new LinkedHashMap<>();
        ((Map<String, Object>) o).forEach((k, v) -> out.put(k, ((Number) v).doubleValue()));
        return out;
    }

    /** The model being trained (after {@link #run()}: the final one). */
    public MoeModel model() {
        return model;
    }
}
