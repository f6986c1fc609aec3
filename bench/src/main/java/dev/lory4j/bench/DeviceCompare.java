package dev.lory4j.bench;

import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.Rng;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code --backend NAME} runs of the GEMM and training-step benchmarks: the products and steps go through a
 * device backend (TornadoVM) in a child JVM started with that backend's flags, next to our CPU backend in the
 * same JVM. For TornadoVM the child gets {@code @$TORNADOVM_HOME/tornado-argfile} and the accel jar on its class
 * path; a child whose backend did not come up (and fell back to the CPU) fails instead of reporting CPU figures
 * as device ones.
 */
final class DeviceCompare {
    private DeviceCompare() {}

    /** Largest accepted relative error of the device product against our CPU product. */
    static final double TOLERANCE = 1e-4;

    /**
     * One GEMM row: the device's throughput with operands resident (the product alone), through
     * {@code Backend.matmul} (operands copied in and the result out every call), and our CPU GEMM's.
     */
    record GemmRow(String shape, String device, int threads, double residentGflops, double callGflops,
                   double cpuGflops, double relError) {

        /** One tab-separated line for passing the row from the child JVM. */
        String toLine() {
            return String.join("\t", shape, device, Integer.toString(threads), Double.toString(residentGflops),
                    Double.toString(callGflops), Double.toString(cpuGflops), Double.toString(relError));
        }

        /** Inverse of {@link #toLine}. */
        static GemmRow fromLine(String line) {
            String[] f = line.split("\t", -1);
            if (f.length != 7) {
                throw new IllegalArgumentException("DeviceCompare.GemmRow: expected 7 fields in '" + line + "'");
            }
            return new GemmRow(f[0], f[1], Integer.parseInt(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]));
        }

        /** The row as JSON (keys shape, device, threads, resident_gflops, call_gflops, cpu_gflops). */
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("shape", shape);
            m.put("device", device);
            m.put("threads", threads);
            m.put("resident_gflops", residentGflops);
            m.put("call_gflops", callGflops);
            m.put("cpu_gflops", cpuGflops);
            m.put("rel_error", relError);
            return m;
        }
    }

    /**
     * One training-step row: tokens/s through the device backend and through our CPU backend, and the megabytes
     * the device backend copied between host and device per step: mean over the warm-up steps (which copy the
     * parameters and their optimizer state in once) and over the timed steps.
     */
    record TrainRow(String model, String device, int threads, double deviceTokensPerSecond,
                    double cpuTokensPerSecond, double warmupMegabytesPerStep, double deviceMegabytesPerStep) {

        /**
         * The row as JSON (keys model, device, threads, device_tokens_per_s, cpu_tokens_per_s, warmup_mb_per_step,
         * device_mb_per_step).
         */
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("device", device);
            m.put("threads", threads);
            m.put("device_tokens_per_s", deviceTokensPerSecond);
            m.put("cpu_tokens_per_s", cpuTokensPerSecond);
            m.put("warmup_mb_per_step", warmupMegabytesPerStep);
            m.put("device_mb_per_step", deviceMegabytesPerStep);
            return m;
        }
    }

    /**
     * JVM flags and class-path entries a child needs to run on {@code backend} (and this JVM's
     * {@code -Dlory4j.tornado.*} settings); fails with what is missing.
     */
    static List<String> childFlags(String backend) {
        if (!backend.equals("tornado")) {
            throw new BenchMain.UsageException("--backend: '" + backend + "' is not cpu or tornado");
        }
        String home = System.getenv("TORNADOVM_HOME");
        if (home == null || home.isBlank() || !Files.isRegularFile(Path.of(home, "tornado-argfile"))) {
            throw new BenchMain.UsageException("--backend tornado: set TORNADOVM_HOME to a TornadoVM SDK with a "
                    + "tornado-argfile (see README, \"TornadoVM\")");
        }
        Path jar = accelJar();
        List<String> flags = new ArrayList<>();
        flags.add("@" + Path.of(home, "tornado-argfile"));
        flags.add("-Dlory4j.backend=tornado");
        flags.add("-Dtornado.recover.bailout=False"); // a kernel TornadoVM cannot compile fails, never runs as Java
        flags.add("-Dlory4j.accel.jar=" + jar);
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("lory4j.tornado.")).sorted()
                .forEach(k -> flags.add("-D" + k + "=" + System.getProperty(k))); // the backend's own settings
        return flags;
    }

    /**
     * Preloads the JDK's {@code libjsig} in a device child: the NVIDIA OpenCL driver installs its own SIGSEGV
     * handler, and without signal chaining the JVM's (which implicit null checks and safepoint polls rely on) is
     * replaced, so the JVM dies with SIGSEGV at some later, random point.
     */
    static void signalChaining(Map<String, String> env) {
        Path jsig = Path.of(System.getProperty("java.home"), "lib", "libjsig.so");
        if (Files.isRegularFile(jsig)) {
            String pre = env.get("LD_PRELOAD");
            env.put("LD_PRELOAD", pre == null || pre.isBlank() ? jsig.toString() : jsig + ":" + pre);
        }
    }

    /** The accel jar: {@code -Dlory4j.accel.jar}, else {@code $LORY4J_ROOT/accel/target/lory4j-accel-*.jar}. */
    static Path accelJar() {
        String given = System.getProperty("lory4j.accel.jar");
        if (given != null) {
            return Path.of(given);
        }
        Path dir = Path.of(System.getenv().getOrDefault("LORY4J_ROOT", "."), "accel", "target");
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("lory4j-accel-.*\\.jar")
                            && !p.getFileName().toString().contains("tests"))
                    .findFirst().orElseThrow();
        } catch (Exception e) {
            throw new BenchMain.UsageException("--backend tornado: no lory4j-accel jar in " + dir + "; build it with "
                    + "TORNADOVM_HOME set and Maven on JDK 25: mvn -DskipTests package");
        }
    }

    /** The backend this JVM was started for; fails unless it is {@code wanted} (no silent CPU fallback). */
    static Backend requireBackend(String wanted) {
        Backend b = Backends.current();
        if (!b.name().equals(wanted)) {
            throw new BenchMain.RunFailedException("the " + wanted + " backend did not start in the child JVM (got "
                    + b.name() + "; the log above says why)");
        }
        return b;
    }

    /** Measures one shape on the current device backend and on our CPU backend (2-D products only). */
    static GemmRow gemm(GemmShape s, int threads, double seconds) {
        Backend device = requireBackend("tornado");
        Backend cpu = new CpuBackend();
        Rng rng = new Rng(42);
        Tensor a = rng.uniform(-1f, 1f, s.batch(), s.m(), s.k());
        Tensor b = s.transB() ? rng.uniform(-1f, 1f, s.batch(), s.n(), s.k()).transpose(-1, -2)
                : rng.uniform(-1f, 1f, s.batch(), s.k(), s.n());
        if (s.batch() == 1) {
            a = a.reshape(s.m(), s.k());
            b = b.reshape(s.k(), s.n());
        }
        Tensor want = cpu.matmul(a, b);
        double err = device.matmul(a, b).relativeErrorTo(want); // also compiles the plan
        if (!(err <= TOLERANCE)) {
            throw new BenchMain.RunFailedException("gemm " + s.name() + " on " + device.deviceName()
                    + ": relative error " + err + " against the CPU exceeds " + TOLERANCE);
        }
        double resident = Double.NaN;
        if (s.batch() == 1) {
            // reps grow until one timed run of back-to-back products takes 0.2 s; then the median of a few runs
            int reps = 1;
            double perProduct = device.residentMatmulSeconds(a, b, reps);
            while (perProduct * reps < 0.2 && reps < 1 << 20) {
                reps *= 2;
                perProduct = device.residentMatmulSeconds(a, b, reps);
            }
            List<Double> runs = new ArrayList<>();
            for (int i = 0; i < Math.max(3, (int) (seconds / Math.max(perProduct * reps, 1e-3))) && i < 15; i++) {
                runs.add(device.residentMatmulSeconds(a, b, reps));
            }
            runs.sort(null);
            resident = s.flops() / runs.get(runs.size() / 2);
        }
        Tensor a3 = a;
        Tensor b3 = b;
        double call = s.flops() / secondsPerCall(reps -> {
            for (int i = 0; i < reps; i++) {
                device.matmul(a3, b3);
            }
        }, seconds);
        double cpuRate = s.flops() / secondsPerCall(reps -> {
            for (int i = 0; i < reps; i++) {
                cpu.matmul(a3, b3);
            }
        }, seconds);
        return new GemmRow(s.name(), device.deviceName(), threads, resident / 1e9, call / 1e9, cpuRate / 1e9, err);
    }

    /** Runs {@code body(reps)} with growing reps until one run takes 0.2 s, then returns the median s per rep. */
    private static double secondsPerCall(java.util.function.IntConsumer body, double seconds) {
        int reps = 1;
        while (true) {
            long t0 = System.nanoTime();
            body.accept(reps);
            double dt = (System.nanoTime() - t0) / 1e9;
            if (dt >= 0.2 || reps >= 1 << 20) {
                break;
            }
            reps *= 2;
        }
        List<Double> samples = new ArrayList<>();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        do {
            long t0 = System.nanoTime();
            body.accept(reps);
            samples.add((System.nanoTime() - t0) / 1e9 / reps);
        } while (System.nanoTime() < end || samples.size() < 3);
        samples.sort(null);
        return samples.get(samples.size() / 2);
    }

    /** The GEMM table of a device run. */
    static String gemmTable(List<GemmRow> rows) {
        TextTable t = new TextTable("shape", "device", "device GFLOP/s (resident)", "device GFLOP/s (per call)",
                "CPU threads", "lory4j CPU GFLOP/s", "rel. error");
        for (GemmRow r : rows) {
            t.addRow(r.shape(), r.device(), fmt(r.residentGflops()), fmt(r.callGflops()),
                    Integer.toString(r.threads()), fmt(r.cpuGflops()), String.format(Locale.ROOT, "%.1e", r.relError()));
        }
        return t.render();
    }

    /** The training-step table of a device run. */
    static String trainTable(List<TrainRow> rows) {
        TextTable t = new TextTable("model", "device", "device tok/s", "device MB copied/step",
                "(warm-up step)", "CPU threads", "lory4j CPU tok/s", "ratio");
        for (TrainRow r : rows) {
            t.addRow(r.model(), r.device(), fmt(r.deviceTokensPerSecond()), megabytes(r.deviceMegabytesPerStep()),
                    megabytes(r.warmupMegabytesPerStep()),
                    Integer.toString(r.threads()), fmt(r.cpuTokensPerSecond()),
                    String.format(Locale.ROOT, "%.2f", r.deviceTokensPerSecond() / r.cpuTokensPerSecond()));
        }
        return t.render();
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
    }

    /** Megabytes with one decimal, or four below 0.1 MB (a whole-model plan copies kilobytes per step). */
    static String megabytes(double v) {
        return Double.isNaN(v) || v >= 0.1 ? fmt(v) : String.format(Locale.ROOT, "%.4f", v);
    }
}
