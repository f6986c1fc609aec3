package dev.lory4j.cli;

import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.Generator;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j generate}: text from a checkpoint and a prompt, streamed as it is sampled. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a trained model, printing the text as it is sampled.")
final class GenerateCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Mixin
    RunArgs runArgs;

    @Option(names = "--prompt", required = true, description = "The text to continue.")
    String prompt;

    @Option(names = "--max-new", defaultValue = "200", description = "Tokens to generate at most (default "
            + "${DEFAULT-VALUE}).")
    int maxNew;

    @Option(names = "--temperature", defaultValue = "0.8", description = "Sampling temperature; 0 is greedy "
            + "(default ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k likeliest tokens; 0 keeps all "
            + "(default ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "1", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--routing", description = "How Lory layers route: prompt_only (one merge from the prompt, then "
            + "dense-cost decoding), causal_segment, per_segment or prefix (default: the model's routing_mode).")
    String routing;

    @Override
    public Integer call() throws Exception {
        PrintStream out = main.out;
        RunDir run = runArgs.dir();
        MoeModel model = run.model().eval();
        Tokenizer tok = run.tokenizer(runArgs.tokenizer);
        int[] ids = tok.encode(prompt);
        if (ids.length == 0) {
            throw new IllegalArgumentException("--prompt is empty");
        }
        int room = model.config().decoder().maxPositions() - ids.length;
        if (room <= 0) {
            throw new IllegalArgumentException("the prompt has " + ids.length + " tokens; the model reads at most "
                    + model.config().decoder().maxPositions());
        }
        if (maxNew < 0) {
            throw new IllegalArgumentException("--max-new must not be negative, got " + maxNew);
        }
        RoutingMode mode = routing == null ? model.config().routingMode() : routing(routing);
        Generator.Sampling s = new Generator.Sampling(temperature, topK, topP, tok.documentBoundaryId(), seed);
        int[] all = Arrays.copyOf(ids, ids.length + Math.min(maxNew, room));
        int[] len = {ids.length};
        String[] shown = {tok.decode(ids)};
        out.print(shown[0]);
        new Generator(model, mode).generate(ids, Math.min(maxNew, room), s, t -> {
            all[len[0]++] = t;
            String text = tok.decode(all, 0, len[0]);
            if (text.startsWith(shown[0])) { // a token may end inside a character: print once it is whole
                out.print(text.substring(shown[0].length()));
                shown[0] = text;
            }
            out.flush();
        });
        out.println();
        if (maxNew > room) {
            out.printf(Locale.ROOT, "(stopped at the model's %d positions)%n", model.config().decoder().maxPositions());
        }
        return 0;
    }

    /** A routing mode named on the command line. */
    static RoutingMode routing(String name) {
        try {
            return RoutingMode.valueOf(name.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--routing '" + name + "' is not one of causal_segment, prompt_only, "
                    + "per_segment, prefix", e);
        }
    }
}
