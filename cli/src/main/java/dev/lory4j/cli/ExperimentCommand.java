package dev.lory4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j experiment}: the paper's comparisons with seeds and intervals (see {@link Experiment}). */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = {"The Lory paper's comparisons on the bundled corpus, each configuration with several seeds: "
                + "Lory against dense, top-1 and Expert Choice; similarity against random batching; the segment "
                + "length T and expert count E halved and doubled; a domain left out of training. Perplexity per "
                + "domain with 95 %% intervals by seed and by bootstrap over held-out documents.",
            "Defaults take about an hour on 2 cores; --quick about a minute (a smoke test). Finished runs are saved "
                + "and reused: run the same command again to continue a stopped experiment."})
final class ExperimentCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--quick", description = "A tiny model and 12 steps: every path in about a minute.")
    boolean quick;

    @Option(names = "--study", split = ",", description = "Studies to run (default all): baselines, batching, "
            + "segment, experts, ood.")
    List<String> studies;

    @Option(names = "--seeds", description = "Seeds per configuration (default 3).")
    Integer seeds;

    @Option(names = "--seed", description = "First seed (default 1); the others follow it.")
    Long seed;

    @Option(names = "--steps", description = "Training steps of each run (default 400; --quick 12).")
    Integer steps;

    @Option(names = "--ood-domain", description = "The domain the ood study leaves out of training (default legal).")
    String oodDomain;

    @Option(names = "--out", description = "Output directory (default runs/experiment or runs/experiment-quick).")
    Path out;

    @Override
    public Integer call() throws Exception {
        Experiment.Options d = quick ? Experiment.Options.quick() : Experiment.Options.defaults();
        Experiment.Options o = new Experiment.Options(DemoCommand.positive("--steps", steps, d.steps()), d.batch(),
                d.seqLen(), d.hidden(), d.layers(), d.heads(), d.experts(), d.segment(), d.lr(),
                DemoCommand.positive("--seeds", seeds, d.seeds()), seed == null ? d.seed() : seed, d.evalWindows(),
                d.resamples(), oodDomain == null ? d.oodDomain() : oodDomain,
                studies == null ? d.studies() : studies.stream().map(String::strip).toList(),
                out == null ? d.out() : out);
        if (java.nio.file.Files.isRegularFile(o.out())) {
            throw new IllegalArgumentException(o.out() + " is a file, not a directory");
        }
        java.nio.file.Files.createDirectories(o.out());
        RunDir.checkWritable(o.out());
        Experiment.run(o, main.out);
        return 0;
    }
}
