package dev.lory4j.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The arguments of every command that reads a trained model: the run (or checkpoint) and its tokenizer. */
final class RunArgs {
    @Parameters(index = "0", paramLabel = "RUN", description = "A run directory of lory4j train, or a checkpoint file.")
    Path run;

    @Option(names = "--tokenizer", description = "A tokenizer.json (default: the run's).")
    Path tokenizer;

    /** The run named on the command line. */
    RunDir dir() {
        return RunDir.existing(run);
    }
}
