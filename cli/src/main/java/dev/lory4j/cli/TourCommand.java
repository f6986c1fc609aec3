package dev.lory4j.cli;

import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.kernels.Parallel;
import dev.lory4j.tensor.spi.Backends;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code lory4j tour}: a tour of the tensor core. */
@Command(name = "tour", mixinStandardHelpOptions = true,
        description = "A tour of the tensor core: views, broadcasting, softmax, norms, and a timed N x N product.")
final class TourCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--size", defaultValue = "1024", description = "N of the timed product (default ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the random tensors.")
    long seed;

    @Override
    public Integer call() {
        DemoCommand.positive("--size", size, size);
        PrintStream out = main.out;
        out.printf(Locale.ROOT, "lory4j tensor core: backend=%s, threads=%d, vector lanes=%d floats%n",
                Backends.current().name(), Parallel.threads(),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length());
        Rng rng = new Rng(seed);
        Tensor x = rng.normal(0f, 1f, 2, 3, 4);
        out.println("\nx = rng.normal(0, 1, 2, 3, 4)\n" + x);
        out.println("\nx.transpose(1, 2) (a view, strides " + Arrays.toString(x.transpose(1, 2).strides()) + ")\n"
                + x.transpose(1, 2));
        out.println("\nx + arange(4)  (broadcast over the last axis)\n" + x.add(Tensor.arange(4)));
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
}
