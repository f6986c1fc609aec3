package dev.lory4j.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The benchmarks' options, parsed by picocli: {@code --name value} or {@code --name=value}, each name one of a
 * command's known ones and given at most once; a mistake is an {@link IllegalArgumentException} naming the argument.
 * The names in {@link #FLAGS} take no value (present: "true").
 */
public final class Options {
    private Options() {}

    /** Options without a value. */
    static final Set<String> FLAGS = Set.of("profile");

    /** The options of {@code args[from..]} for command {@code cmd}, by name without the dashes. */
    public static Map<String, String> parse(String cmd, String[] args, int from, Set<String> known) {
        CommandSpec spec = CommandSpec.create().name(cmd);
        known.stream().sorted().forEach(n -> spec.addOption(FLAGS.contains(n)
                ? OptionSpec.builder("--" + n).type(boolean.class).arity("0").build()
                : OptionSpec.builder("--" + n).type(String.class).paramLabel("VALUE").build()));
        CommandLine.ParseResult r;
        try {
            r = new CommandLine(spec).parseArgs(Arrays.copyOfRange(args, Math.min(from, args.length), args.length));
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(cmd + ": " + e.getMessage() + " (known: "
                    + String.join(", ", known.stream().sorted().map(s -> "--" + s).toList()) + ")", e);
        }
        Map<String, String> o = new LinkedHashMap<>();
        for (OptionSpec os : r.matchedOptions()) {
            o.put(os.longestName().substring(2), String.valueOf((Object) os.getValue()));
        }
        return o;
    }
}
