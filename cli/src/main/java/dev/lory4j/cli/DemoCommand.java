package dev.lory4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j demo}: the main job on the bundled corpus (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The main job: similarity-batched training of a dense and a Lory model on the bundled corpus, "
                + "per-domain held-out perplexity and an HTML report.",
            "Defaults take about 10 minutes on 2 cores; --quick about 2 (a smoke test: too short to compare)."})
final class DemoCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--quick", description = "80 steps instead of 800: a smoke test of the pipeline, too short to "
            + "compare the models (no change column).")
    boolean quick;

    @Option(names = "--steps", description = "Training steps of each model.")
    Integer steps;

    @Option(names = "--experts", description = "Experts per Lory layer (default 8).")
    Integer experts;

    @Option(names = "--segment", description = "Lory segment length T (default 64).")
    Integer segment;

    @Option(names = "--seed", description = "Seed of initialisation and data order (default 42).")
    Long seed;

    @Option(names = "--out", description = "Output directory (default runs/demo or runs/demo-quick).")
    Path out;

    @Option(names = "--hidden", description = "Model width (default 128).")
    Integer hidden;

    @Option(names = "--layers", description = "Decoder layers (default 4).")
    Integer layers;

    @Option(names = "--seq", description = "Sequence length (default 256).")
    Integer seq;

    @Option(names = "--force", description = "Run into an --out directory that holds a finished demo run.")
    boolean force;

    @Option(names = "--resume", description = "Continue the demo in --out from its checkpoints (a stopped or killed "
            + "run; a finished one is evaluated and reported again).")
    boolean resume;

    @Override
    public Integer call() throws Exception {
        Demo.Options o = quick ? Demo.Options.quick() : Demo.Options.defaults();
        int h = positive("--hidden", hidden, o.hidden());
        Demo.Options run = new Demo.Options(positive("--steps", steps, o.steps()), o.batch(),
                positive("--seq", seq, o.seqLen()), h, positive("--layers", layers, o.layers()), o.heads(),
                dev.lory4j.autograd.nn.DecoderConfig.swigluIntermediate(h), positive("--experts", experts, o.experts()),
                positive("--segment", segment, o.segment()), o.lr(), o.evalRows(), seed == null ? o.seed() : seed,
                out == null ? o.out() : out, resume, quick);
        Path dir = run.out();
        if (java.nio.file.Files.isRegularFile(dir)) {
            throw new IllegalArgumentException(dir + " is a file, not a directory");
        }
        if (java.nio.file.Files.exists(dir.resolve("report.html")) && !force && !resume) {
            throw new IllegalArgumentException(dir + " holds a finished demo run (report.html); --force runs again "
                    + "into it, --resume reports it again, --out picks another directory");
        }
        java.nio.file.Files.createDirectories(dir);
        RunDir.checkWritable(dir); // before any work
        Demo.run(run, main.out);
        return 0;
    }

    /** The option's value when given (checked positive), else the default. */
    static int positive(String option, Integer value, int byDefault) {
        if (value == null) {
            return byDefault;
        }
        if (value <= 0) {
            throw new IllegalArgumentException("option " + option + " needs a positive integer, got " + value);
        }
        return value;
    }
}
