package dev.lory4j.cli;

import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.inspect.RoutingReport;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.Evaluation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j inspect}: the routing report of a Lory checkpoint on a data file. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "The routing report of a Lory model on a data file: report.html (routing weights per layer and "
                + "domain, specialisation and mutual information, expert usage, expert distances, routing on one "
                + "document per domain), routing.csv and routing.json.")
final class InspectCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Mixin
    RunArgs runArgs;

    @Option(names = "--data", required = true, description = "A .jsonl/.jsonl.gz file, a directory, or 'bundled'.")
    String data;

    @Option(names = "--split", defaultValue = "all", description = "train, heldout or all (default ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--out", required = true, description = "Directory for report.html, routing.csv, routing.json.")
    Path out;

    @Option(names = "--rows", defaultValue = "64", description = "Windows per domain at most (default "
            + "${DEFAULT-VALUE}).")
    int rows;

    @Override
    public Integer call() throws Exception {
        RunDir run = runArgs.dir();
        MoeModel model = run.model();
        if (model.loryLayers().isEmpty()) {
            throw new IllegalArgumentException(run.checkpoint() + " is a " + model.config().kind().key()
                    + " model: inspect shows the routing of Lory layers");
        }
        Tokenizer tok = run.tokenizer(runArgs.tokenizer);
        int length = run.options().get("seq") instanceof Number n ? n.intValue()
                : model.config().decoder().maxPositions();
        List<Document> docs = DataArgs.documents(data, DataArgs.split(split));
        Map<String, List<Batch>> windows = Evaluation.capped(Evaluation.windows(docs, tok, length, 8),
                DemoCommand.positive("--rows", rows, 1));
        RunDir.checkWritable(java.nio.file.Files.createDirectories(out));
        RoutingTrace trace = RoutingReport.trace(model, windows);
        Path page = RoutingReport.write(out, "lory4j inspect: " + run.checkpoint().getFileName() + " on " + data,
                model, trace, new ArrayList<>(windows.keySet()), RoutingReport.samples(docs, 4 * model.config()
                        .segmentLength()), tok, length);
        main.out.printf(Locale.ROOT, "%d documents in %d domains, windows of %d tokens; report: %s%n", docs.size(),
                windows.size(), length, page);
        return 0;
    }
}
