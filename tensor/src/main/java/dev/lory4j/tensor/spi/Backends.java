package dev.lory4j.tensor.spi;

import dev.lory4j.tensor.CpuBackend;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/** Chooses the backend once: {@code -Dlory4j.backend=NAME} if given, else the available one of highest priority. */
public final class Backends {
    private Backends() {}

    private static final System.Logger LOG = System.getLogger(Backends.class.getName());
    private static volatile Backend current;

    /** The backend in use (selected on first call). */
    public static Backend current() {
        Backend b = current;
        if (b == null) {
            synchronized (Backends.class) {
                if (current == null) {
                    current = select(System.getProperty("lory4j.backend"), discover());
                }
                b = current;
            }
        }
        return b;
    }

    /** Replaces the backend in use (tests, or a program that manages backends itself). */
    public static void use(Backend backend) {
        current = backend;
    }

    /** Every backend found by ServiceLoader, plus the CPU backend. */
    public static List<Backend> discover() {
        List<Backend> all = new ArrayList<>();
        all.add(new CpuBackend());
        for (Backend b : ServiceLoader.load(Backend.class)) {
            if (!b.name().equals("cpu")) {
                all.add(b);
            }
        }
        return all;
    }

    /**
     * The backend named {@code wanted} (null: highest priority among the available ones). A named backend that
     * is missing or unavailable falls back to the CPU with one log line, never a failure at start.
     */
    public static Backend select(String wanted, List<Backend> candidates) {
        Backend cpu = candidates.stream().filter(b -> b.name().equals("cpu")).findFirst().orElseGet(CpuBackend::new);
        if (wanted != null && !wanted.isBlank()) {
            for (Backend b : candidates) {
                if (b.name().equalsIgnoreCase(wanted.strip())) {
                    if (safeAvailable(b)) {
                        return b;
                    }
                    LOG.log(System.Logger.Level.WARNING, "lory4j backend '" + wanted + "' is not available here; using the CPU backend");
                    return cpu;
                }
            }
            LOG.log(System.Logger.Level.WARNING, "lory4j backend '" + wanted + "' not found (have " + candidates.stream().map(Backend::name)
                    .toList() + "); using the CPU backend");
            return cpu;
        }
        return candidates.stream().filter(Backends::safeAvailable)
                .max(Comparator.comparingInt(Backend::priority)).orElse(cpu);
    }

    private static boolean safeAvailable(Backend b) {
        try {
            return b.isAvailable();
        } catch (RuntimeException | LinkageError e) {
            LOG.log(System.Logger.Level.WARNING, "lory4j backend '" + b.name() + "' failed its start-up check (" + e + ")");
            return false;
        }
    }
}
