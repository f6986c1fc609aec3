package dev.lory4j.moe.cli;

import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.VectorApi;
import dev.lory4j.tensor.kernels.Parallel;
import dev.lory4j.tensor.spi.Backends;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/** The {@code lory4j} command-line program. */
public final class Main {
    private Main() {}

    private static final String USAGE = """
            usage: lory4j <command> [options]

            commands:
              demo [--quick] [--steps N] [--experts E] [--segment T] [--seed S] [--out DIR]
                                          the main job: similarity-batched training of a dense and a Lory
                                          model on the bundled corpus, per-domain perplexity, HTML report
                                          (defaults: ~10 minutes on 2 cores; --quick: ~2 minutes)
              tour [--size N] [--seed S]   a tour of the tensor core: views, broadcasting, softmax, norms,
                                          and a timed matrix product of N x N (default 1024)
              dump --config FILE.json --out FILE.safetensors [--seed S] [--batch B] [--seq L]
                                          one forward/backward pass of the model in FILE.json (Hugging Face
                                          keys) on random tokens, written for tools/torch/crosscheck.py
              help                        this text

            JVM flags: -Dlory4j.threads=N sets the kernel threads (default: all cores);
                       -Dlory4j.backend=cpu|NAME picks a backend.
            """;

    /** Entry point; exits with status 2 and a one-line reason on bad arguments. */
    public static void main(String[] args) {
        try {
            VectorApi.require();
            System.exit(run(args, System.out));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("lory4j: " + e.getMessage());
            System.exit(2);
        }
    }

    /** Runs one command, printing to {@code out}; returns the exit status. */
    public static int run(String[] args, PrintStream out) {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            out.print(USAGE);
            return 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0]) {
            case "demo" -> demo(rest, out);
            case "tour" -> tour(rest, out);
            case "dump" -> dump(rest, out);
            default -> throw new IllegalArgumentException("unknown command '" + args[0] + "' (try: lory4j help)");
        };
    }

    private static int demo(String[] args, PrintStream out) {
        Demo.Options o = Demo.Options.defaults();
        for (String a : args) {
            if (a.equals("--quick")) {
                o = Demo.Options.quick();
            }
        }
        int steps = o.steps();
        int experts = o.experts();
        int segment = o.segment();
        long seed = o.seed();
        java.nio.file.Path dir = o.out();
        int hidden = o.hidden();
        int layers = o.layers();
        int seq = o.seqLen();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> { }
                case "--steps" -> steps = positiveInt("--steps", value(args, ++i, "--steps"));
                case "--experts" -> experts = positiveInt("--experts", value(args, ++i, "--experts"));
                case "--segment" -> segment = positiveInt("--segment", value(args, ++i, "--segment"));
                case "--seed" -> seed = Long.parseLong(value(args, ++i, "--seed"));
                case "--out" -> dir = java.nio.file.Path.of(value(args, ++i, "--out"));
                case "--hidden" -> hidden = positiveInt("--hidden", value(args, ++i, "--hidden"));
                case "--layers" -> layers = positiveInt("--layers", value(args, ++i, "--layers"));
                case "--seq" -> seq = positiveInt("--seq", value(args, ++i, "--seq"));
                default -> throw new IllegalArgumentException("demo: unknown option '" + args[i] + "'");
            }
        }
        Demo.Options run = new Demo.Options(steps, o.batch(), seq, hidden, layers, o.heads(),
                Math.max(8, (hidden * 8 / 3 + 7) / 8 * 8), experts, segment, o.lr(), o.evalRows(), seed, dir);
        try {
            Demo.run(run, out);
            return 0;
        } catch (java.io.IOException e) {
            throw new IllegalStateException("demo: " + e.getMessage(), e);
        }
    }

    private static int tour(String[] args, PrintStream out) {
        int size = 1024;
        long seed = 42;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--size" -> size = positiveInt("--size", value(args, ++i, "--size"));
                case "--seed" -> seed = Long.parseLong(value(args, ++i, "--seed"));
                default -> throw new IllegalArgumentException("tour: unknown option '" + args[i] + "'");
            }
        }
        out.printf(Locale.ROOT, "lory4j tensor core: backend=%s, threads=%d, vector lanes=%d floats%n",
                Backends.current().name(), Parallel.threads(),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
        Rng rng = new Rng(seed);
        Tensor x = rng.normal(0f, 1f, 2, 3, 4);
        out.println("\nx = rng.normal(0, 1, 2, 3, 4)\n" + x);
        out.println("\nx.transpose(1, 2) (a view, strides " + Arrays.toString(x.transpose(1, 2).strides()) + ")\n"
                + x.transpose(1, 2));
        Tensor bias = Tensor.arange(4);
        out.println("\nx + arange(4)  (broadcast over the last axis)\n" + x.add(bias));
        out.println("\nsoftmax(x, axis=-1): each row sums to 1\n" + x.softmax(-1));
        out.println("\nrow sums of the softmax\n" + x.softmax(-1).sum(false, -1));
        out.println("\nrmsNorm(x, weight=ones, eps=1e-6)\n" + x.rmsNorm(Tensor.ones(4), 1e-6f));
        out.println("\nx.max(axis=2), x.argmax(axis=2)\n" + x.max(false, 2) + "\n" + x.argmax(2, false));

        Tensor a = rng.uniform(-1f, 1f, size, size);
        Tensor b = rng.uniform(-1f, 1f, size, size);
        double flops = 2.0 * size * size * size;
        a.matmul(b); // warm-up: JIT compilation and packing buffers
        double best = Double.MAX_VALUE;
        long deadline = System.nanoTime() + 3_000_000_000L;
        int reps = 0;
        while (reps < 3 || (System.nanoTime() < deadline && reps < 50)) {
            long t0 = System.nanoTime();
            a.matmul(b);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            reps++;
        }
        out.printf(Locale.ROOT, "%nmatmul %dx%d . %dx%d: best of %d runs %.1f ms = %.1f GFLOP/s (%d threads)%n",
                size, size, size, size, reps, best * 1e3, flops / best / 1e9, Parallel.threads());
        out.println("For a side-by-side comparison with OpenBLAS run: ./lory4j bench gemm");
        return 0;
    }

    private static int dump(String[] args, PrintStream out) {
        java.nio.file.Path config = null;
        java.nio.file.Path file = null;
        long seed = 1;
        int batch = 2;
        int seq = 8;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> config = java.nio.file.Path.of(value(args, ++i, "--config"));
                case "--out" -> file = java.nio.file.Path.of(value(args, ++i, "--out"));
                case "--seed" -> seed = Long.parseLong(value(args, ++i, "--seed"));
                case "--batch" -> batch = positiveInt("--batch", value(args, ++i, "--batch"));
                case "--seq" -> seq = positiveInt("--seq", value(args, ++i, "--seq"));
                default -> throw new IllegalArgumentException("dump: unknown option '" + args[i] + "'");
            }
        }
        if (config == null || file == null) {
            throw new IllegalArgumentException("dump: --config and --out are required");
        }
        try {
            float loss = Dump.write(config, seed, batch, seq, file);
            out.printf(Locale.ROOT, "wrote %s (loss %.6f)%n", file, loss);
            return 0;
        } catch (java.io.IOException e) {
            throw new IllegalStateException("dump: " + e.getMessage(), e);
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) {
            throw new IllegalArgumentException("option " + opt + " needs a value");
        }
        return args[i];
    }

    private static int positiveInt(String opt, String v) {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("option " + opt + " needs a positive integer, got '" + v + "'");
    }
}
