package dev.lory4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j dump}: one forward/backward pass written for the PyTorch cross-check (see {@link Dump}). */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = "One forward/backward pass of the model in a config file (Hugging Face keys) on random tokens, "
                + "written for tools/torch/crosscheck.py.")
final class DumpCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--config", required = true, description = "The model's config.json.")
    Path config;

    @Option(names = "--out", required = true, description = "The safetensors file to write.")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of weights and tokens (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "2", description = "Rows (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq", defaultValue = "8", description = "Sequence length (default ${DEFAULT-VALUE}).")
    int seq;

    @Override
    public Integer call() throws Exception {
        float loss = Dump.write(config, seed, batch, seq, out);
        main.out.printf(Locale.ROOT, "wrote %s (loss %.6f)%n", out, loss);
        return 0;
    }
}
