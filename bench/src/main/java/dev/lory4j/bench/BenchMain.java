package dev.lory4j.bench;

import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.kernels.Parallel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Side-by-side benchmarks from the command line: {@code gemm} (our GEMM against OpenBLAS) and
 * {@code elementwise} (our memory-bound kernels against {@code System.arraycopy}).
 *
 * <p>Each thread count runs in its own child JVM started with {@code -Dlory4j.threads=N} and
 * {@code OPENBLAS_NUM_THREADS=N}: our thread pool is sized once per JVM. The child's environment also sets
 * {@code OPENBLAS_THREAD_TIMEOUT=20} (unless already set): OpenBLAS's idle workers then spin for about 2^20
 * cycles (~0.3 ms) before sleeping, instead of the default 2^28 (~0.1 s, a whole sample of ours spent fighting
 * a spinning worker for the core). The minimum, 4, is worse for the peer: its workers sleep between
 * back-to-back calls and small products drop from ~150 to ~5 GFLOP/s at 2 threads (measured here).
 * Inside a child both sides alternate sample by sample ({@link PairTimer}).
 */
public final class BenchMain {
    private BenchMain() {}

    /** Prefix of a result line on a child's standard output. */
    static final String ROW = "@@row\t";

    static final String USAGE = """
            usage: BenchMain <command> [options]

            commands:
              gemm          lory4j Gemm.sgemm against OpenBLAS cblas_sgemm, GFLOP/s
                --threads LIST   thread counts, comma-separated (default 1,2); each runs in its own JVM with
                                 -Dlory4j.threads=N and OpenBLAS set to N threads
                --shapes LIST    comma-separated: all | N (N x N x N) | MxNxK | MxNxKT (B transposed) | B*MxNxK[T] (a batch)
                                 (default all: 256,512,1024,2048,4096x688x256,4096x256x688,
                                 4096x256x256,4096x4096x256T)
                --seconds S      measuring time per shape and thread count (default 4)
                --warmup S       warm-up time per shape and thread count (default 3)
                --json FILE      also write the rows as JSON
                --backend NAME   cpu (default) | tornado: the products through the TornadoVM backend (needs
                                 TORNADOVM_HOME and the accel jar), resident and per call, beside our CPU GEMM
              elementwise   add, exp, silu and softmax rows against System.arraycopy, GB/s
                --threads LIST   thread counts (default 1,2)
                --sizes LIST     element counts, suffix K or M allowed (default 1M,16M)
                --ops LIST       add,exp,silu,softmax (default all four)
                --seconds S      measuring time per row (default 2)
                --warmup S       warm-up time per row (default 3)
                --json FILE      also write the rows as JSON
              train         a training step of the decoder (dense and Lory) against the same model in PyTorch
                            (tools/torch/train_bench.py, its steps alternating with ours), tokens/s
                --models LIST    dense and/or lory (default dense,lory)
                --threads LIST   thread counts (default 2)
                --size S         tiny (default: hidden 256, 4 layers, 4 heads, B 8 x L 512) | large (hidden
                                 512, 8 layers, 8 heads, intermediate 1376, B 4 x L 1024)
                --experts E      Lory experts (default 8)    --segment T   Lory segment length (default 128)
                --batch B        rows per step (default: the size's)   --seq L  tokens per row (the size's)
                --steps N        timed pairs of steps (default 6)      --warmup N  untimed steps first (2)
                --profile        also print where our step's time goes, by kernel and by op (JFR samples)
                --json FILE      also write the rows as JSON
                --backend NAME   cpu (default) | tornado: our step on the TornadoVM device beside our CPU step
                                 (no PyTorch peer in this mode)
              memory        trains the tiny decoder in a child JVM with -Xmx2g and prints the live heap after a
                            full GC every --every steps (flat = no growth)
                --model dense|lory (default dense)  --steps N (default 300)  --every N (default 25)
                --experts E (default 8)  --segment T (default 128)  --batch B (default 8)  --seq L (default 512)
              --help        this text

            Results go to standard output, progress to standard error. Ratio = ours / peer, the median of
            per-pair ratios (pairs of back-to-back samples); the p25-p75 column shows their spread.
            Each thread count runs in a child JVM with -Dlory4j.threads=N, OPENBLAS_NUM_THREADS=N and
            OPENBLAS_THREAD_TIMEOUT=20 (an OPENBLAS_THREAD_TIMEOUT already in the environment wins).
            JMH benchmarks (GemmBench, ElementwiseBench, StorageBench) run with org.openjdk.jmh.Main on the
            same class path (./lory4j bench jmh ...).
            """;

    /** Runs the command line; exits 0 on success, 2 on bad arguments, 1 on a failed run. */
    public static void main(String[] args) {
        int code;
        try {
            code = run(args, System.out, System.err);
        } catch (UsageException e) {
            System.err.println("BenchMain: " + e.getMessage());
            System.err.println("run with --help for the options");
            code = 2;
        } catch (RunFailedException e) {
            System.err.println("BenchMain: " + e.getMessage());
            code = 1;
        }
        System.exit(code);
    }

    /** Bad command line; the message names the argument at fault. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    /** A benchmark that could not complete (a child failed, a result was wrong, a file was not written). */
    static final class RunFailedException extends RuntimeException {
        RunFailedException(String message) {
            super(message);
        }
    }

    /** Parses {@code args} and runs the command, writing the table to {@code out}; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            throw new UsageException("no command given (expected gemm or elementwise)");
        }
        if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String cmd = args[0];
        switch (cmd) {
            case "help" -> {
                out.print(USAGE);
                return 0;
            }
            case "gemm" -> {
                requireVectorApi();
                Map<String, String> o = options(cmd, args, Set.of("threads", "shapes", "seconds", "warmup", "json",
                        "backend"));
                String backend = o.getOrDefault("backend", "cpu");
                if (!backend.equals("cpu")) {
                    List<DeviceCompare.GemmRow> rows = gemmOnDevice(o, backend, err);
                    out.print(DeviceCompare.gemmTable(rows));
                    writeJson(o, rows.stream().map(DeviceCompare.GemmRow::toJson).toList());
                    return 0;
                }
                List<GemmCompare.Row> rows = gemm(o, err);
                out.print(gemmTable(rows));
                writeJson(o, rows.stream().map(GemmCompare.Row::toJson).toList());
                return 0;
            }
            case "elementwise" -> {
                requireVectorApi();
                Map<String, String> o = options(cmd, args,
                        Set.of("threads", "sizes", "ops", "seconds", "warmup", "json"));
                List<ElementwiseCompare.Row> rows = elementwise(o, err);
                out.print(elementwiseTable(rows));
                writeJson(o, rows.stream().map(ElementwiseCompare.Row::toJson).toList());
                return 0;
            }
            case "train" -> {
                requireVectorApi();
                Map<String, String> o = options(cmd, args, Set.of("models", "threads", "experts", "segment", "batch",
                        "seq", "steps", "warmup", "json", "backend", "size", "profile"));
                String backend = o.getOrDefault("backend", "cpu");
                if (!backend.equals("cpu")) {
                    List<DeviceCompare.TrainRow> rows = trainOnDevice(o, backend, err);
                    out.print(DeviceCompare.trainTable(rows));
                    writeJson(o, rows.stream().map(DeviceCompare.TrainRow::toJson).toList());
                    return 0;
                }
                List<TrainCompare.Row> rows = train(o, err);
                out.print(TrainCompare.table(rows));
                writeJson(o, rows.stream().map(TrainCompare.Row::toJson).toList());
                return 0;
            }
            case "memory" -> {
                requireVectorApi();
                Map<String, String> o = options(cmd, args, Set.of("model", "steps", "every", "experts", "segment",
                        "batch", "seq"));
                String model = o.getOrDefault("model", "dense");
                if (!model.equals("dense") && !model.equals("lory")) {
                    throw new UsageException("--model: '" + model + "' is not dense or lory");
                }
                int steps = parseInt("--steps", o.getOrDefault("steps", "300"));
                int every = parseInt("--every", o.getOrDefault("every", "25"));
                List<String> rows = childWithHeap("memory-worker", "-Xmx2g", err, "--experts",
                        model.equals("dense") ? "0" : o.getOrDefault("experts", "8"), "--segment",
                        o.getOrDefault("segment", "128"), "--batch", o.getOrDefault("batch", "8"), "--seq",
                        o.getOrDefault("seq", "512"), "--steps", Integer.toString(steps), "--every",
                        Integer.toString(every));
                out.println("step   live heap after GC (MB), -Xmx2g, " + model);
                for (int i = 0; i < rows.size(); i++) {
                    out.printf(Locale.ROOT, "%5d  %8.1f%n", (i + 1) * every, Double.parseDouble(rows.get(i)));
                }
                return 0;
            }
            case "memory-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("experts", "segment", "batch", "seq", "steps",
                        "every"));
                for (double mb : TrainCompare.liveHeapMb(parseInt("--experts", o.get("experts")),
                        parseInt("--segment", o.get("segment")), parseInt("--batch", o.get("batch")),
                        parseInt("--seq", o.get("seq")), parseInt("--steps", o.get("steps")),
                        parseInt("--every", o.get("every")))) {
                    out.println(ROW + mb);
                    out.flush();
                }
                return 0;
            }
            case "train-pair-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("threads", "experts", "segment", "batch", "seq",
                        "steps", "warmup", "size", "profile"));
                int threads = parseInt("--threads", o.get("threads"));
                checkOurThreads(threads);
                out.println(ROW + trainPair(o, threads, err).toLine());
                return 0;
            }
            case "train-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("threads", "experts", "segment", "batch", "seq",
                        "steps", "warmup", "backend", "size"));
                int threads = parseInt("--threads", o.get("threads"));
                checkOurThreads(threads);
                String backend = o.getOrDefault("backend", "cpu");
                Backend chosen = DeviceCompare.requireBackend(backend);
                String device = chosen.deviceName();
                err.println("train: backend " + backend + " on " + device);
                long copied = chosen.bytesCopied();
                int warmup = parseInt("--warmup", o.get("warmup"));
                int steps = parseInt("--steps", o.get("steps"));
                long[] atWarmupEnd = new long[1];
                double sec = TrainCompare.oursSecondsPerStep(size(o), parseInt("--experts", o.get("experts")),
                        parseInt("--segment", o.get("segment")), parseInt("--batch", o.get("batch")),
                        parseInt("--seq", o.get("seq")), warmup, steps, () -> atWarmupEnd[0] = chosen.bytesCopied());
                double warmupMb = (atWarmupEnd[0] - copied) / 1e6 / Math.max(warmup, 1);
                double mbPerStep = (chosen.bytesCopied() - atWarmupEnd[0]) / 1e6 / steps;
                out.println(ROW + sec + "\t" + device + "\t" + mbPerStep + "\t" + warmupMb);
                return 0;
            }
            case "gemm-device-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("threads", "shapes", "seconds"));
                int threads = parseInt("--threads", o.get("threads"));
                checkOurThreads(threads);
                for (GemmShape s : GemmShape.parseList(o.get("shapes"))) {
                    err.println("gemm: " + s.name() + " on the device, threads=" + threads + " ..." + loadNote());
                    out.println(ROW + DeviceCompare.gemm(s, threads, parseSeconds("--seconds", o.get("seconds")))
                            .toLine());
                    out.flush();
                }
                return 0;
            }
            case "gemm-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("threads", "shapes", "seconds", "warmup"));
                int threads = parseInt("--threads", o.get("threads"));
                checkOurThreads(threads);
                err.println("gemm: threads=" + threads + ", lory4j Parallel.threads()=" + Parallel.threads()
                        + ", peer " + peerDescription(threads) + ", " + Runtime.getRuntime().availableProcessors()
                        + " cores, Java " + Runtime.version());
                for (GemmShape s : GemmShape.parseList(o.get("shapes"))) {
                    err.println("gemm: " + s.name() + " threads=" + threads + " ..." + loadNote());
                    GemmCompare.Row r;
                    try {
                        r = GemmCompare.run(s, threads, parseSeconds("--warmup", o.get("warmup")),
                                parseSeconds("--seconds", o.get("seconds")));
                    } catch (GemmCompare.MismatchException e) {
                        err.println(e.getMessage());
                        return 3;
                    }
                    out.println(ROW + r.toLine());
                    out.flush();
                }
                return 0;
            }
            case "elementwise-worker" -> {
                Map<String, String> o = options(cmd, args, Set.of("threads", "sizes", "ops", "seconds", "warmup"));
                int threads = parseInt("--threads", o.get("threads"));
                checkOurThreads(threads);
                err.println("elementwise: threads=" + threads + ", lory4j Parallel.threads()=" + Parallel.threads()
                        + ", " + Runtime.getRuntime().availableProcessors()
                        + " cores, Java " + Runtime.version());
                for (int size : parseList("--sizes", o.get("sizes"), s -> parseSize("--sizes", s))) {
                    for (ElementwiseCompare.Op op : parseList("--ops", o.get("ops"), ElementwiseCompare.Op::parse)) {
                        err.println("elementwise: " + op.label() + " size=" + size + " threads=" + threads + " ..."
                                + loadNote());
                        ElementwiseCompare.Row r;
                        try {
                            r = ElementwiseCompare.run(op, size, threads, parseSeconds("--warmup", o.get("warmup")),
                                    parseSeconds("--seconds", o.get("seconds")));
                        } catch (IllegalStateException e) {
                            err.println(e.getMessage());
                            return 3;
                        }
                        out.println(ROW + r.toLine());
                        out.flush();
                    }
                }
                return 0;
            }
            default -> throw new UsageException("unknown command '" + cmd + "' (expected gemm or elementwise)");
        }
    }

    private static List<TrainCompare.Row> train(Map<String, String> o, PrintStream err) {
        List<String> models = parseList("--models", o.getOrDefault("models", "dense,lory"), m -> {
            if (!m.equals("dense") && !m.equals("lory")) {
                throw new UsageException("--models: '" + m + "' is not dense or lory");
            }
            return m;
        });
        TrainCompare.Size size = size(o);
        int experts = parseInt("--experts", o.getOrDefault("experts", "8"));
        int segment = parseInt("--segment", o.getOrDefault("segment", "128"));
        List<TrainCompare.Row> rows = new ArrayList<>();
        for (int threads : parseThreads(o.getOrDefault("threads", "2"))) {
            for (String m : models) {
                int e = m.equals("dense") ? 0 : experts;
                String name = TrainCompare.modelName(e, segment);
                err.println("train: " + name + " (" + size.name() + ") threads=" + threads + ": lory4j and PyTorch, "
                        + "step by step ..." + loadNote());
                List<String> args = new ArrayList<>(List.of("--threads", Integer.toString(threads), "--experts",
                        Integer.toString(e), "--segment", Integer.toString(segment), "--size", size.name(), "--batch",
                        o.getOrDefault("batch", Integer.toString(size.batch())), "--seq",
                        o.getOrDefault("seq", Integer.toString(size.seq())), "--steps", o.getOrDefault("steps", "6"),
                        "--warmup", o.getOrDefault("warmup", "2")));
                if (o.containsKey("profile")) {
                    args.add("--profile");
                }
                // the large Lory step keeps 8 layers of per-segment merged experts for its backward pass: several GB
                List<String> out = child("train-pair-worker", threads, size.name().equals("large") ? "-Xmx14g" : null,
                        List.of(), err, args.toArray(String[]::new));
                rows.add(TrainCompare.Row.fromLine(out.getFirst()));
            }
        }
        return rows;
    }

    /** The --size option (default tiny). */
    private static TrainCompare.Size size(Map<String, String> o) {
        try {
            return TrainCompare.Size.parse(o.getOrDefault("size", "tiny"));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /**
     * In a child JVM: our step and the PyTorch peer's, alternating; with --profile, the JFR breakdown of our steps.
     * Without the peer (not installed) our steps alone, the peer's columns NaN.
     */
    private static TrainCompare.Row trainPair(Map<String, String> o, int threads, PrintStream err) {
        TrainCompare.Size size = size(o);
        int experts = parseInt("--experts", o.get("experts"));
        int segment = parseInt("--segment", o.get("segment"));
        int batch = parseInt("--batch", o.get("batch"));
        int seq = parseInt("--seq", o.get("seq"));
        int steps = parseInt("--steps", o.get("steps"));
        int warmup = parseInt("--warmup", o.get("warmup"));
        String name = TrainCompare.modelName(experts, segment);
        Path script = Path.of(System.getenv().getOrDefault("LORY4J_ROOT", "."), "tools", "torch", "train_bench.py");
        TrainCompare.OurStep ours = new TrainCompare.OurStep(size, experts, segment, batch, seq);
        boolean profile = o.containsKey("profile");
        double tokens = (double) batch * seq;
        try (TrainCompare.PeerServer peer = new TrainCompare.PeerServer(script, size, experts, segment, batch, seq,
                threads, warmup)) {
            TrainCompare.Paired r = TrainCompare.paired(ours, peer, warmup, steps);
            double live = TrainCompare.liveHeapAfterGc() / 1e6;
            double rss = TrainCompare.ownPeakRss() / 1e6;
            double peerRss = peer.peakRss() / 1e6;
            printProfile(profile, ours, name, err);
            return new TrainCompare.Row(name, size.name(), threads, batch, seq, tokens / r.oursSeconds(),
                    tokens / r.peerSeconds(), r.ratio(), r.ratioP25(), r.ratioP75(), r.pairs(), peer.name, live, rss,
                    peerRss);
        } catch (IOException ex) {
            err.println("train: " + ex.getMessage() + "; timing lory4j alone");
            double seconds = TrainCompare.medianSeconds(ours, warmup, steps, () -> {});
            double live = TrainCompare.liveHeapAfterGc() / 1e6;
            double rss = TrainCompare.ownPeakRss() / 1e6;
            printProfile(profile, ours, name, err);
            return new TrainCompare.Row(name, size.name(), threads, batch, seq, tokens / seconds,
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0, "unavailable", live, rss, Double.NaN);
        }
    }

    /** With --profile: two more of our steps under JFR (after the timed ones, so they do not slow them). */
    private static void printProfile(boolean wanted, Runnable ours, String name, PrintStream err) {
        if (wanted) {
            StepProfile profile = new StepProfile();
            profile.during(ours);
            profile.during(ours);
            err.print(profile.summary("train: where the time of our " + name + " step goes"));
        }
    }

    /** {@code gemm --backend NAME}: each thread count in a child JVM started for that backend. */
    private static List<DeviceCompare.GemmRow> gemmOnDevice(Map<String, String> o, String backend, PrintStream err) {
        List<String> flags = new ArrayList<>(DeviceCompare.childFlags(backend));
        flags.add("-Dlory4j.tornado.minFlopsPerByte=0"); // every product on the device, however small
        String shapes;
        try {
            shapes = String.join(",", GemmShape.parseList(o.getOrDefault("shapes", "all")).stream()
                    .map(GemmShape::name).toList());
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        String seconds = fmt(parseSeconds("--seconds", o.getOrDefault("seconds", "2")));
        List<DeviceCompare.GemmRow> rows = new ArrayList<>();
        for (int t : parseThreads(o.getOrDefault("threads", "2"))) {
            for (String line : child("gemm-device-worker", t, flags, err, "--threads", Integer.toString(t), "--shapes",
                    shapes, "--seconds", seconds)) {
                rows.add(DeviceCompare.GemmRow.fromLine(line));
            }
        }
        return rows;
    }

    /** {@code train --backend NAME}: our step on the device and on the CPU, each in its own child JVM. */
    private static List<DeviceCompare.TrainRow> trainOnDevice(Map<String, String> o, String backend,
                                                              PrintStream err) {
        List<String> flags = DeviceCompare.childFlags(backend);
        List<DeviceCompare.TrainRow> rows = new ArrayList<>();
        int batch = parseInt("--batch", o.getOrDefault("batch", "8"));
        int seq = parseInt("--seq", o.getOrDefault("seq", "512"));
        for (int threads : parseThreads(o.getOrDefault("threads", "2"))) {
            for (String m : o.getOrDefault("models", "dense,lory").split(",")) {
                if (!m.equals("dense") && !m.equals("lory")) {
                    throw new UsageException("--models: '" + m + "' is not dense or lory");
                }
                int e = m.equals("dense") ? 0 : parseInt("--experts", o.getOrDefault("experts", "8"));
                String[] args = {"--threads", Integer.toString(threads), "--experts", Integer.toString(e), "--segment",
                    o.getOrDefault("segment", "128"), "--batch", Integer.toString(batch), "--seq", Integer.toString(seq),
                    "--steps", o.getOrDefault("steps", "5"), "--warmup", o.getOrDefault("warmup", "2")};
                String name = TrainCompare.modelName(e, parseInt("--segment", o.getOrDefault("segment", "128")));
                err.println("train: " + name + " threads=" + threads + ": " + backend + " ..." + loadNote());
                List<String> argList = new ArrayList<>(List.of(args));
                argList.add("--backend");
                argList.add(backend);
                String[] dev = child("train-worker", threads, flags, err, argList.toArray(String[]::new))
                        .getFirst().split("\t");
                err.println("train: " + name + " threads=" + threads + ": cpu ..." + loadNote());
                String cpu = child("train-worker", threads, err, args).getFirst().split("\t")[0];
                rows.add(new DeviceCompare.TrainRow(name, dev[1], threads, batch * seq / Double.parseDouble(dev[0]),
                        batch * seq / Double.parseDouble(cpu), Double.parseDouble(dev[3]), Double.parseDouble(dev[2])));
            }
        }
        return rows;
    }

    /** Fails when our pool did not pick up the thread count (the property is read once, at class init). */
    private static void checkOurThreads(int threads) {
        if (Parallel.threads() != threads) {
            throw new RunFailedException("--threads " + threads + ": lory4j kernels use " + Parallel.threads()
                    + " threads; start the JVM with -Dlory4j.threads=" + threads);
        }
    }

    private static String peerDescription(int threads) {
        OpenBlas.setThreads(threads);
        return OpenBlas.describe();
    }

    // ---------------------------------------------------------------- gemm

    private static List<GemmCompare.Row> gemm(Map<String, String> o, PrintStream err) {
        List<Integer> threads = parseThreads(o.getOrDefault("threads", "1,2"));
        String shapes = o.getOrDefault("shapes", "all");
        List<GemmShape> parsed;
        try {
            parsed = GemmShape.parseList(shapes);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        String seconds = fmt(parseSeconds("--seconds", o.getOrDefault("seconds", "4")));
        String warmup = fmt(parseSeconds("--warmup", o.getOrDefault("warmup", "3")));
        String shapeArg = String.join(",", parsed.stream().map(GemmShape::name).toList());
        List<GemmCompare.Row> rows = new ArrayList<>();
        for (int t : threads) {
            List<String> lines = child("gemm-worker", t, err, "--threads", Integer.toString(t), "--shapes", shapeArg,
                    "--seconds", seconds, "--warmup", warmup);
            for (String line : lines) {
                rows.add(GemmCompare.Row.fromLine(line));
            }
        }
        // Group by shape (in the order given), then threads.
        List<GemmCompare.Row> sorted = new ArrayList<>();
        for (GemmShape s : parsed) {
            for (GemmCompare.Row r : rows) {
                if (r.shape().equals(s.name())) {
                    sorted.add(r);
                }
            }
        }
        return sorted;
    }

    /** The GEMM results as a text table. */
    static String gemmTable(List<GemmCompare.Row> rows) {
        TextTable t = new TextTable("shape", "threads", "ours GFLOP/s", "OpenBLAS GFLOP/s", "ratio",
                "ratio p25-p75", "pairs");
        for (GemmCompare.Row r : rows) {
            t.addRow(r.shape(), Integer.toString(r.threads()), fmt1(r.oursGflops()), fmt1(r.peerGflops()),
                    fmt2(r.ratio()), fmt2(r.ratioP25()) + "-" + fmt2(r.ratioP75()), Integer.toString(r.pairs()));
        }
        return t.render();
    }

    // ---------------------------------------------------------------- elementwise

    private static List<ElementwiseCompare.Row> elementwise(Map<String, String> o, PrintStream err) {
        List<Integer> threads = parseThreads(o.getOrDefault("threads", "1,2"));
        List<Integer> sizes = parseList("--sizes", o.getOrDefault("sizes", "1M,16M"), s -> parseSize("--sizes", s));
        List<ElementwiseCompare.Op> ops = parseList("--ops", o.getOrDefault("ops", "add,exp,silu,softmax"),
                ElementwiseCompare.Op::parse);
        if (ops.contains(ElementwiseCompare.Op.SOFTMAX)) {
            for (int s : sizes) {
                if (s % ElementwiseCompare.SOFTMAX_COLS != 0) {
                    throw new UsageException("--sizes: softmax needs sizes divisible by "
                            + ElementwiseCompare.SOFTMAX_COLS + ", got " + s);
                }
            }
        }
        String seconds = fmt(parseSeconds("--seconds", o.getOrDefault("seconds", "2")));
        String warmup = fmt(parseSeconds("--warmup", o.getOrDefault("warmup", "3")));
        String sizeArg = String.join(",", sizes.stream().map(String::valueOf).toList());
        String opArg = String.join(",", ops.stream().map(ElementwiseCompare.Op::label).toList());
        List<ElementwiseCompare.Row> rows = new ArrayList<>();
        for (int t : threads) {
            for (String line : child("elementwise-worker", t, err, "--threads", Integer.toString(t), "--sizes", sizeArg,
                    "--ops", opArg, "--seconds", seconds, "--warmup", warmup)) {
                rows.add(ElementwiseCompare.Row.fromLine(line));
            }
        }
        List<ElementwiseCompare.Row> sorted = new ArrayList<>();
        for (ElementwiseCompare.Op op : ops) {
            for (int size : sizes) {
                for (ElementwiseCompare.Row r : rows) {
                    if (r.op().equals(op.label()) && r.size() == size) {
                        sorted.add(r);
                    }
                }
            }
        }
        return sorted;
    }

    /** The elementwise results as a text table. */
    static String elementwiseTable(List<ElementwiseCompare.Row> rows) {
        TextTable t = new TextTable("op", "size", "threads", "ours GB/s", "arraycopy GB/s", "ratio",
                "ratio p25-p75", "pairs");
        for (ElementwiseCompare.Row r : rows) {
            t.addRow(r.op(), sizeLabel(r.size()), Integer.toString(r.threads()), fmt1(r.oursGbps()),
                    fmt1(r.peerGbps()), fmt2(r.ratio()), fmt2(r.ratioP25()) + "-" + fmt2(r.ratioP75()),
                    Integer.toString(r.pairs()));
        }
        return t.render();
    }

    // ---------------------------------------------------------------- child JVMs

    /**
     * Runs {@code BenchMain <worker> args} in a child JVM with {@code threads} threads for us and OpenBLAS;
     * returns its result lines (without the prefix). Its standard error is passed through.
     */
    private static List<String> child(String worker, int threads, PrintStream err, String... args) {
        return child(worker, threads, null, List.of(), err, args);
    }

    /** A child JVM with extra JVM flags (a device backend's; {@code -Dlory4j.accel.jar} joins the class path). */
    private static List<String> child(String worker, int threads, List<String> flags, PrintStream err,
                                      String... args) {
        return child(worker, threads, null, flags, err, args);
    }

    /** A child JVM with an explicit heap limit (for the memory check) and the default thread count. */
    private static List<String> childWithHeap(String worker, String heapFlag, PrintStream err, String... args) {
        return child(worker, Parallel.threads(), heapFlag, List.of(), err, args);
    }

    private static List<String> child(String worker, int threads, String extraJvmFlag, List<String> flags,
                                      PrintStream err, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> jvm = new ArrayList<>(ManagementFactory.getRuntimeMXBean().getInputArguments());
        jvm.removeIf(a -> a.startsWith("-Dlory4j.threads="));
        if (jvm.stream().noneMatch(a -> a.contains("jdk.incubator.vector"))) {
            cmd.add("--add-modules");
            cmd.add("jdk.incubator.vector");
        }
        cmd.addAll(jvm);
        if (jvm.stream().noneMatch(a -> a.startsWith("--enable-native-access"))) {
            cmd.add("--enable-native-access=ALL-UNNAMED"); // javacpp loads OpenBLAS with System.loadLibrary
        }
        cmd.add("-Dlory4j.threads=" + threads);
        if (extraJvmFlag != null) {
            jvm.removeIf(a -> a.startsWith("-Xmx"));
            cmd.removeIf(a -> a.startsWith("-Xmx"));
            cmd.add(extraJvmFlag);
        }
        cmd.addAll(flags);
        cmd.add("-cp");
        String cp = System.getProperty("java.class.path");
        for (String f : flags) {
            if (f.startsWith("-Dlory4j.accel.jar=")) {
                cp = f.substring("-Dlory4j.accel.jar=".length()) + java.io.File.pathSeparator + cp;
            }
        }
        cmd.add(cp);
        cmd.add(BenchMain.class.getName());
        cmd.add(worker);
        cmd.addAll(List.of(args));

        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Map<String, String> env = pb.environment();
        env.put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        env.put("OMP_NUM_THREADS", Integer.toString(threads));
        env.putIfAbsent("OPENBLAS_THREAD_TIMEOUT", "20");
        if (!flags.isEmpty()) {
            DeviceCompare.signalChaining(env);
        }
        err.println(worker.replace("-worker", "") + ": starting a JVM for threads=" + threads);
        List<String> rows = new ArrayList<>();
        int status;
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    if (line.startsWith(ROW)) {
                        rows.add(line.substring(ROW.length()));
                    } else {
                        err.println(line);
                    }
                }
            }
            status = p.waitFor();
        } catch (IOException e) {
            throw new RunFailedException("could not start a child JVM (" + cmd.getFirst() + "): " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RunFailedException("interrupted while waiting for the child JVM (threads=" + threads + ")");
        }
        if (status != 0) {
            throw new RunFailedException(worker.replace("-worker", "") + " with threads=" + threads
                    + " failed (child JVM exit status " + status + "; its message is above)");
        }
        return rows;
    }

    // ---------------------------------------------------------------- arguments

    /** Options after the command ({@link Options}, parsed by picocli), names limited to {@code allowed}. */
    static Map<String, String> options(String cmd, String[] args, Set<String> allowed) {
        try {
            return Options.parse(cmd, args, 1, allowed);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static List<Integer> parseThreads(String spec) {
        List<Integer> t = parseList("--threads", spec, s -> parseInt("--threads", s));
        for (int n : t) {
            if (n < 1 || n > 1024) {
                throw new UsageException("--threads: " + n + " is not a thread count in 1..1024");
            }
        }
        return t;
    }

    private static <T> List<T> parseList(String option, String spec, Function<String, T> item) {
        if (spec == null || spec.isBlank()) {
            throw new UsageException(option + ": empty list");
        }
        LinkedHashSet<T> out = new LinkedHashSet<>();
        for (String s : spec.split(",")) {
            try {
                out.add(item.apply(s.strip()));
            } catch (UsageException e) {
                throw e;
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        return new ArrayList<>(out);
    }

    static int parseInt(String option, String s) {
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException | NullPointerException e) {
            throw new UsageException(option + ": '" + s + "' is not an integer");
        }
    }

    /** An element count such as {@code 65536}, {@code 64K} or {@code 16M} (binary multiples). */
    static int parseSize(String option, String s) {
        String t = s.strip().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("K")) {
            mult = 1 << 10;
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("M")) {
            mult = 1 << 20;
            t = t.substring(0, t.length() - 1);
        }
        long v;
        try {
            v = Long.parseLong(t) * mult;
        } catch (NumberFormatException e) {
            throw new UsageException(option + ": '" + s + "' is not a size (like 65536, 64K or 16M)");
        }
        if (v < 1 || v > (1L << 28)) {
            throw new UsageException(option + ": " + s + " is outside 1..256M elements");
        }
        return (int) v;
    }

    static double parseSeconds(String option, String s) {
        double v;
        try {
            v = Double.parseDouble(s.strip());
        } catch (NumberFormatException | NullPointerException e) {
            throw new UsageException(option + ": '" + s + "' is not a number of seconds");
        }
        if (!(v >= 0 && v <= 3600)) {
            throw new UsageException(option + ": " + s + " is outside 0..3600 seconds");
        }
        return v;
    }

    private static void writeJson(Map<String, String> o, List<Map<String, Object>> rows) {
        String file = o.get("json");
        if (file == null) {
            return;
        }
        try {
            Json.write(Path.of(file), rows);
        } catch (IOException | RuntimeException e) {
            throw new RunFailedException("--json: could not write '" + file + "': " + e);
        }
    }

    private static void requireVectorApi() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            throw new RunFailedException("the Vector API is missing: add --add-modules jdk.incubator.vector to the "
                    + "java command line (JDK 25 or newer)");
        }
    }

    /** " (load average 1 min: X)" from /proc/loadavg, so disturbed figures can be recognised; "" elsewhere. */
    private static String loadNote() {
        try {
            String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ");
            return " (load average " + f[0] + " on " + Runtime.getRuntime().availableProcessors() + " cores)";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    static String sizeLabel(int size) {
        if (size % (1 << 20) == 0) {
            return (size >> 20) + "M";
        }
        if (size % (1 << 10) == 0) {
            return (size >> 10) + "K";
        }
        return Integer.toString(size);
    }

    private static String fmt(double v) {
        return Double.toString(v);
    }

    static String fmt1(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    static String fmt2(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }
}
