package dev.lory4j.cli;

import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.train.Evaluation;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j eval}: per-domain loss and perplexity of a checkpoint over all of a data file. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Per-domain tokens, mean loss and perplexity of a model over all of the text of a data file, in "
                + "windows of the model's training length.")
final class EvalCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Mixin
    RunArgs runArgs;

    @Option(names = "--data", required = true, description = "A .jsonl/.jsonl.gz file, a directory, or 'bundled'.")
    String data;

    @Option(names = "--split", defaultValue = "all", description = "train, heldout or all of the documents "
            + "(default ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--seq", description = "Window length (default: the run's training length, else the model's "
            + "max_position_embeddings).")
    Integer seq;

    @Option(names = "--batch", defaultValue = "8", description = "Windows per forward pass (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--routing", defaultValue = "causal_segment", description = "How Lory layers route: "
            + "causal_segment (as in training; the paper's language-model evaluation), prompt_only, per_segment or "
            + "prefix (default ${DEFAULT-VALUE}).")
    String routing;

    @Option(names = "--json", description = "Also write the table to this JSON file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        PrintStream out = main.out;
        RunDir run = runArgs.dir();
        RoutingMode mode = GenerateCommand.routing(routing);
        MoeModel model = run.model();
        Tokenizer tok = run.tokenizer(runArgs.tokenizer);
        int length = seq != null ? DemoCommand.positive("--seq", seq, 1)
                : run.options().get("seq") instanceof Number n ? n.intValue() : model.config().decoder().maxPositions();
        if (length > model.config().decoder().maxPositions()) {
            throw new IllegalArgumentException("--seq " + length + " exceeds the model's max_position_embeddings "
                    + model.config().decoder().maxPositions());
        }
        if (tok.vocabSize() > model.config().decoder().vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens, the model "
                    + model.config().decoder().vocabSize());
        }
        List<Document> docs = DataArgs.documents(data, DataArgs.split(split));
        var windows = Evaluation.windows(docs, tok, length, DemoCommand.positive("--batch", batch, 1));
        long t0 = System.nanoTime();
        int[] done = {0};
        Evaluation.Report r = Evaluation.evaluate(model, windows, mode, d -> System.err.printf(Locale.ROOT,
                "eval: %s done (%d of %d domains, %,d tokens, %.1f s)%n", d.domain(), ++done[0], windows.size(),
                d.tokens(), (System.nanoTime() - t0) / 1e9));
        out.printf(Locale.ROOT, "%s on %s (%s, %d documents): windows of %d tokens, routing %s%n", run.checkpoint(),
                data, split, docs.size(), length, mode.name().toLowerCase(Locale.ROOT));
        out.printf(Locale.ROOT, "%-16s %10s %10s %12s%n", "domain", "tokens", "loss", "perplexity");
        List<Evaluation.Domain> rows = new ArrayList<>(r.domains());
        rows.add(r.all());
        for (Evaluation.Domain d : rows) {
            out.printf(Locale.ROOT, "%-16s %10d %10.4f %12.3f%n", d.domain(), d.tokens(), d.meanLoss(),
                    d.perplexity());
        }
        if (json != null) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("checkpoint", run.checkpoint().toString());
            m.put("data", data);
            m.put("split", split);
            m.put("window", length);
            m.put("routing", mode.name().toLowerCase(Locale.ROOT));
            List<Map<String, Object>> domains = new ArrayList<>();
            for (Evaluation.Domain d : rows) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("domain", d.domain());
                e.put("tokens", d.tokens());
                e.put("loss", d.meanLoss());
                e.put("perplexity", d.perplexity());
                domains.add(e);
            }
            m.put("domains", domains);
            Files.writeString(json, dev.lory4j.autograd.io.Json.write(m));
        }
        return 0;
    }
}
