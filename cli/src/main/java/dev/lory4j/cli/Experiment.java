package dev.lory4j.cli;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.batch.PackedSequences;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.batch.SimilarityBatching;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.ConsoleProgress;
import dev.lory4j.moe.train.Evaluation;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.ProgressListener;
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
 * {@code lory4j experiment}: the Lory paper's comparisons at laptop scale on the bundled corpus, each configuration
 * trained with several seeds and evaluated per held-out document, so that every perplexity and every change comes
 * with 95 % intervals by seed and by bootstrap over documents ({@link ExperimentStats}).
 *
 * <p>Studies ({@link #STUDIES}): {@code baselines} (dense, Lory, top-1 token routing and Expert Choice at equal
 * active parameters), {@code batching} (Lory on similarity-ordered against randomly packed data), {@code segment}
 * (Lory's segment length T), {@code experts} (the number of experts E) and {@code ood} (dense and Lory trained
 * without one domain, evaluated on it). A configuration shared by studies is trained once per seed. Each finished
 * run is saved as {@code runs/<arm>/seed-<s>.json}; a second invocation on the same {@code --out} loads those and
 * trains only what is missing, so a stopped experiment continues where it was.
 */
public final class Experiment {
    private Experiment() {}

    /** The studies, in the order they are reported. */
    public static final List<String> STUDIES = List.of("baselines", "batching", "segment", "experts", "ood");

    /** Settings of an experiment; {@link #defaults()} takes about an hour on 2 cores, {@link #quick()} a minute. */
    public record Options(int steps, int batch, int seqLen, int hidden, int layers, int heads, int experts,
                          int segment, float lr, int seeds, long seed, int evalWindows, int resamples,
                          String oodDomain, List<String> studies, Path out) {
        /** Checks the settings. */
        public Options {
            if (steps < 1 || batch < 1 || seqLen < 2 || hidden < 1 || layers < 1 || heads < 1 || experts < 2
                    || segment < 1 || !(lr > 0) || seeds < 1 || evalWindows < 1 || resamples < 10) {
                throw new IllegalArgumentException("Experiment.Options: need positive sizes, at least 2 experts, 1 seed and "
                        + "10 bootstrap resamples; got " + this);
            }
            if (seqLen % segment != 0 || segment % 2 != 0 || experts % 2 != 0) {
                throw new IllegalArgumentException("Experiment.Options: the segment length " + segment + " must be even and "
                        + "divide the sequence length " + seqLen + ", and the expert count " + experts + " must be "
                        + "even (the sweeps halve and double both)");
            }
            for (String s : studies) {
                if (!STUDIES.contains(s)) {
                    throw new IllegalArgumentException("Experiment.Options: unknown study '" + s + "'; known: "
                            + String.join(", ", STUDIES));
                }
            }
            studies = List.copyOf(studies);
        }

        /** The demo's model (hidden 128, 4 layers, L 256), 400 steps, 3 seeds: about an hour on 2 cores. */
        public static Options defaults() {
            return new Options(400, 8, 256, 128, 4, 4, 8, 64, 3e-3f, 3, 1, 8, 1000, "legal", STUDIES,
                    Path.of("runs", "experiment"));
        }

        /** A tiny model and a few steps: the same code paths in about a minute (a smoke test, not a result). */
        public static Options quick() {
            return new Options(12, 4, 64, 32, 2, 2, 4, 16, 3e-3f, 3, 1, 2, 200, "legal", STUDIES,
                    Path.of("runs", "experiment-quick"));
        }

        /** Whether this is too small to mean anything (fewer than 200 steps): the results say so. */
        boolean smokeTest() {
            return steps < 200;
        }

        /** The settings that decide a run's result (a saved run is reused only when they match). */
        Map<String, Object> runKey() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("steps", steps);
            m.put("batch", batch);
            m.put("seq_len", seqLen);
            m.put("hidden", hidden);
            m.put("layers", layers);
            m.put("heads", heads);
            m.put("lr", Double.parseDouble(Float.toString(lr)));
            m.put("eval_windows", evalWindows);
            return m;
        }
    }

    /**
     * One configuration: the feed-forward kind, experts and segment length (MoE kinds), whether the data is
     * similarity-ordered, and the domain left out of training (null: none).
     */
    public record Arm(MoeKind kind, int experts, int segment, boolean similarity, String leftOut) {
        /** A short unique name, also the directory of its runs. */
        public String key() {
            String k = switch (kind) {
                case DENSE -> "dense";
                case LORY -> "lory-E" + experts + "-T" + segment;
                default -> kind.key() + "-E" + experts;
            };
            return k + (similarity ? "" : "-random") + (leftOut == null ? "" : "-without-" + leftOut);
        }

        /** The model configuration on the decoder {@code d}. */
        MoeConfig config(DecoderConfig d) {
            return switch (kind) {
                case DENSE -> MoeConfig.dense(d);
                case LORY -> MoeConfig.lory(d, experts, segment);
                default -> MoeConfig.lory(d, experts, segment).withKind(kind);
            };
        }
    }

    /** A study: its question, its arms and the arm the others are compared with. */
    public record Study(String name, String question, List<Arm> arms, Arm baseline, String evalDomain) {}

    /** One document's result in one run: summed loss (nats) over its predicted tokens. */
    public record DocLoss(String id, String domain, double lossSum, long tokens) {}

    /** One finished run: an arm trained with one seed. */
    public record Run(Arm arm, long seed, List<DocLoss> docs, long parameters, double wallSeconds,
                      double tokensPerSecond, double finalLoss, List<Map<String, Object>> evalHistory) {}

    /** The studies of {@code o}, in order. */
    public static List<Study> studies(Options o) {
        int e = o.experts();
        int t = o.segment();
        Arm lory = new Arm(MoeKind.LORY, e, t, true, null);
        Arm dense = new Arm(MoeKind.DENSE, 1, t, true, null);
        List<Study> out = new ArrayList<>();
        for (String name : o.studies()) {
            out.add(switch (name) {
                case "baselines" -> new Study(name, "Does Lory beat dense and token-level MoE at equal active "
                        + "parameters?", List.of(dense, lory, new Arm(MoeKind.TOPK, e, t, true, null),
                        new Arm(MoeKind.EXPERT_CHOICE, e, t, true, null)), dense, null);
                case "batching" -> {
                    Arm random = new Arm(MoeKind.LORY, e, t, false, null);
                    yield new Study(name, "Does similarity batching help Lory against random batching?",
                            List.of(random, lory), random, null);
                }
                case "segment" -> new Study(name, "How does the segment length T matter?",
                        List.of(new Arm(MoeKind.LORY, e, t / 2, true, null), lory,
                                new Arm(MoeKind.LORY, e, t * 2, true, null)), lory, null);
                case "experts" -> new Study(name, "How does the number of experts E matter?",
                        List.of(new Arm(MoeKind.LORY, e / 2, t, true, null), lory,
                                new Arm(MoeKind.LORY, e * 2, t, true, null)), lory, null);
                case "ood" -> {
                    Arm d = new Arm(MoeKind.DENSE, 1, t, true, o.oodDomain());
                    yield new Study(name, "Does the gain hold on a domain never seen in training ("
                            + o.oodDomain() + ")?", List.of(d, new Arm(MoeKind.LORY, e, t, true, o.oodDomain())),
                            d, o.oodDomain());
                }
                default -> throw new IllegalArgumentException("experiment: unknown study " + name);
            });
        }
        return out;
    }

    /** Runs (or loads) every run the studies need, then writes results.json, results.md and report.html. */
    public static Map<String, Object> run(Options o, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(o.out());
        Corpus corpus = Corpus.bundled();
        List<Document> train = corpus.split(Split.TRAIN).load();
        List<Document> held = corpus.split(Split.HELDOUT).load();
        if (o.studies().contains("ood") && train.stream().noneMatch(d -> d.domain().equals(o.oodDomain()))) {
            throw new IllegalArgumentException("--ood-domain '" + o.oodDomain() + "' is not a domain of "
                    + "the corpus; its domains: " + String.join(", ", corpus.domainCounts().keySet()));
        }
        List<Study> studies = studies(o);
        Map<String, Arm> arms = new LinkedHashMap<>();
        studies.forEach(s -> s.arms().forEach(a -> arms.putIfAbsent(a.key(), a)));
        int total = arms.size() * o.seeds();
        out.printf(Locale.ROOT, "experiment: %d studies, %d configurations x %d seeds = %d runs of %d steps, "
                        + "into %s%s%n",
                studies.size(), arms.size(), o.seeds(), total, o.steps(), o.out(),
                o.smokeTest() ? " (a smoke test: too few steps for the numbers to mean anything)" : "");

        Tokenizer tok = new ByteTokenizer();
        Map<String, Map<Long, Run>> runs = new LinkedHashMap<>();
        Data data = new Data(train, tok, o);
        int done = 0;
        for (Arm arm : arms.values()) {
            for (int s = 0; s < o.seeds(); s++) {
                long seed = o.seed() + s;
                Path file = o.out().resolve("runs").resolve(arm.key()).resolve("seed-" + seed + ".json");
                Run r = load(file, arm, seed, o);
                done++;
                if (r == null) {
                    out.printf(Locale.ROOT, "[%d/%d] %s seed %d: training ...%n", done, total, arm.key(), seed);
                    r = train(arm, seed, data, held, tok, o, out);
                    save(file, r, o);
                    out.printf(Locale.ROOT, "[%d/%d] %s seed %d: held-out perplexity %.3f, %.0f tok/s, %s "
                            + "(elapsed %s)%n", done, total, arm.key(), seed, perplexity(r.docs()),
                            r.tokensPerSecond(), ConsoleProgress.duration(r.wallSeconds()),
                            ConsoleProgress.duration((System.nanoTime() - t0) / 1e9));
                } else {
                    out.printf(Locale.ROOT, "[%d/%d] %s seed %d: loaded from %s%n", done, total, arm.key(), seed,
                            file);
                }
                runs.computeIfAbsent(arm.key(), k -> new LinkedHashMap<>()).put(seed, r);
            }
        }
        Map<String, Object> results = ExperimentReport.results(o, studies, runs);
        ExperimentReport.write(o, studies, results, out);
        out.printf(Locale.ROOT, "experiment: done in %s%n", ConsoleProgress.duration((System.nanoTime() - t0) / 1e9));
        return results;
    }

    /** Perplexity over all of a run's documents. */
    static double perplexity(List<DocLoss> docs) {
        double l = 0;
        double t = 0;
        for (DocLoss d : docs) {
            l += d.lossSum();
            t += d.tokens();
        }
        return Math.exp(l / t);
    }

    /** The training data: documents, their similarity order (all, and without each left-out domain), packed rows. */
    private static final class Data {
        final List<Document> train;
        final Tokenizer tok;
        final Options o;
        final Map<String, PackedSequences> similar = new TreeMap<>();

        Data(List<Document> train, Tokenizer tok, Options o) {
            this.train = train;
            this.tok = tok;
            this.o = o;
        }

        List<Document> docs(String leftOut) {
            return leftOut == null ? train : train.stream().filter(d -> !d.domain().equals(leftOut)).toList();
        }

        /** Packed rows of L + 1 tokens: similarity-ordered (once per left-out domain), or shuffled with the seed. */
        PackedSequences packed(Arm arm, long seed) {
            List<Document> docs = docs(arm.leftOut());
            Packer packer = new Packer(tok, o.seqLen() + 1);
            if (!arm.similarity()) {
                return packer.packRandom(docs, seed);
            }
            return similar.computeIfAbsent(String.valueOf(arm.leftOut()),
                    k -> packer.pack(docs, SimilarityBatching.defaults().order(docs).order()));
        }
    }

    private static Run train(Arm arm, long seed, Data data, List<Document> held, Tokenizer tok, Options o,
                             PrintStream out) {
        long t0 = System.nanoTime();
        DecoderConfig dc = new DecoderConfig(tok.vocabSize(), o.hidden(), o.layers(), o.heads(),
                DecoderConfig.swigluIntermediate(o.hidden()), 1e-5f, 10000, false, o.seqLen(), 0.02f, true);
        MoeConfig cfg = arm.config(dc);
        TrainConfig tc = TrainConfig.defaults(o.steps(), o.lr()).toBuilder().seed(seed)
                .evalEvery(Math.max(1, o.steps() / 4)).build();
        // A small eval set for the loss-over-steps history; the result is the full per-document evaluation below.
        Map<String, List<Batch>> history = Evaluation.capped(Evaluation.windows(held, tok, o.seqLen(), o.batch()), 2);
        ConsoleProgress console = new ConsoleProgress(out, "  " + arm.key(), Math.max(1, o.steps() / 4));
        ProgressListener quiet = new ProgressListener() { // the periodic evals go to the run's file, not the console
            @Override
            public void onStep(Trainer.StepLog step, int totalSteps, double etaSeconds) {
                console.onStep(step, totalSteps, etaSeconds);
            }

            @Override
            public void onEval(Trainer.EvalResult eval) {
            }

            @Override
            public void onMessage(String message) {
                console.onMessage(message);
            }
        };
        Trainer.Result r = new Trainer(cfg, tc, new PackedBatchSource(data.packed(arm, seed), o.batch(), seed),
                history, quiet).run();
        List<DocLoss> docs = evaluateDocuments(r.model(), held, tok, o);
        List<Map<String, Object>> evals = new ArrayList<>();
        for (Trainer.EvalResult e : r.evals()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", e.step());
            m.put("perplexity", new TreeMap<>(e.perplexity()));
            evals.add(m);
        }
        int n = r.steps().size();
        double tail = r.steps().subList(Math.max(0, n - 10), n).stream().mapToDouble(Trainer.StepLog::loss)
                .average().orElse(Double.NaN);
        double tps = r.steps().stream().mapToDouble(Trainer.StepLog::tokensPerSecond).average().orElse(0);
        return new Run(arm, seed, docs, r.model().lm().parameterCount(), (System.nanoTime() - t0) / 1e9, tps, tail,
                evals);
    }

    /**
     * Summed loss per held-out document, in windows of L tokens (the first {@code evalWindows} of each document),
     * with causal segment routing: each document is its own set for {@link Evaluation#evaluate}.
     */
    static List<DocLoss> evaluateDocuments(MoeModel model, List<Document> held, Tokenizer tok, Options o) {
        Map<String, String> domainOf = new TreeMap<>();
        List<Document> byId = new ArrayList<>();
        for (Document d : held) {
            if (domainOf.put(d.id(), d.domain()) != null) {
                throw new IllegalArgumentException("experiment: held-out document id '" + d.id() + "' repeats");
            }
            byId.add(new Document(d.id(), d.id(), d.text(), d.split()));
        }
        Map<String, List<Batch>> sets = Evaluation.capped(Evaluation.windows(byId, tok, o.seqLen(), o.batch()),
                o.evalWindows());
        Evaluation.Report report = Evaluation.evaluate(model, sets, RoutingMode.CAUSAL_SEGMENT);
        List<DocLoss> out = new ArrayList<>();
        for (Evaluation.Domain d : report.domains()) {
            out.add(new DocLoss(d.domain(), domainOf.get(d.domain()), d.meanLoss() * d.tokens(), d.tokens()));
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Saved runs

    private static void save(Path file, Run r, Options o) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("arm", r.arm().key());
        m.put("seed", r.seed());
        m.put("settings", o.runKey());
        m.put("parameters", r.parameters());
        m.put("wall_seconds", r.wallSeconds());
        m.put("tokens_per_second", r.tokensPerSecond());
        m.put("final_train_loss", r.finalLoss());
        m.put("eval_history", r.evalHistory());
        List<Map<String, Object>> docs = new ArrayList<>();
        for (DocLoss d : r.docs()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("id", d.id());
            dm.put("domain", d.domain());
            dm.put("loss_sum", d.lossSum());
            dm.put("tokens", d.tokens());
            docs.add(dm);
        }
        m.put("documents", docs);
        Files.createDirectories(file.getParent());
        RunDir.writeAtomically(file, Json.write(m));
    }

    /** Whether saved settings equal these (numbers compared by value: JSON does not keep int and float apart). */
    static boolean sameSettings(Map<String, Object> saved, Map<String, Object> now) {
        if (!saved.keySet().equals(now.keySet())) {
            return false;
        }
        for (Map.Entry<String, Object> e : now.entrySet()) {
            Object a = saved.get(e.getKey());
            Object b = e.getValue();
            boolean same = a instanceof Number x && b instanceof Number y
                    ? Math.abs(x.doubleValue() - y.doubleValue()) <= 1e-9 * Math.abs(y.doubleValue())
                    : String.valueOf(a).equals(String.valueOf(b));
            if (!same) {
                return false;
            }
        }
        return true;
    }

    /** A saved run of this arm and seed, or null when there is none; a run saved with other settings is an error. */
    @SuppressWarnings("unchecked")
    private static Run load(Path file, Arm arm, long seed, Options o) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        Map<String, Object> m = Json.parseObject(Files.readString(file), file.toString());
        Map<String, Object> settings = (Map<String, Object>) m.get("settings");
        if (settings == null || !sameSettings(settings, o.runKey())) {
            throw new IllegalArgumentException(file + " was run with other settings ("
                    + (settings == null ? "none recorded" : Json.write(settings)) + ", now " + Json.write(o.runKey())
                    + "); use another --out or remove " + file.getParent().getParent());
        }
        List<DocLoss> docs = new ArrayList<>();
        for (Object x : (List<Object>) m.get("documents")) {
            Map<String, Object> d = (Map<String, Object>) x;
            docs.add(new DocLoss((String) d.get("id"), (String) d.get("domain"),
                    ((Number) d.get("loss_sum")).doubleValue(), ((Number) d.get("tokens")).longValue()));
        }
        return new Run(arm, seed, docs, ((Number) m.get("parameters")).longValue(),
                ((Number) m.get("wall_seconds")).doubleValue(), ((Number) m.get("tokens_per_second")).doubleValue(),
                ((Number) m.get("final_train_loss")).doubleValue(), (List<Map<String, Object>>) m.get("eval_history"));
    }
}
