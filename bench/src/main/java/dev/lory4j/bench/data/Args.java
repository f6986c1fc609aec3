package dev.lory4j.bench.data;

import dev.lory4j.bench.Options;
import java.util.Map;
import java.util.Set;

/** The {@code --name value} options of a data benchmark main, parsed by picocli ({@link Options}). */
final class Args {
    private final Map<String, String> values;

    /** Parses {@code args}; {@code --help} prints {@code usage} and exits. */
    Args(String[] args, String usage, Set<String> known) {
        if (java.util.List.of(args).contains("--help") || java.util.List.of(args).contains("-h")) {
            System.out.println(usage);
            System.exit(0);
        }
        try {
            values = Options.parse("benchmark", args, 0, known);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "\n" + usage, e);
        }
    }

    String get(String name, String def) {
        return values.getOrDefault(name, def);
    }

    int getInt(String name, int def) {
        String v = values.get(name);
        try {
            return v == null ? def : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'", e);
        }
    }

    double getDouble(String name, double def) {
        String v = values.get(name);
        try {
            return v == null ? def : Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a number, got '" + v + "'", e);
        }
    }
}
