package dev.lory4j.bench;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.capture.CapturedSteps;
import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.autograd.optim.AdamW;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.tensor.Rng;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Training-step throughput of a decoder (the "tiny" one by default: vocab 256, hidden 256, 4 layers, 4 heads,
 * intermediate 688, AdamW) dense or Lory, in lory4j and in PyTorch ({@code tools/torch/train_bench.py}, the same
 * model written plainly in PyTorch, Lory merged with one matmul and bmm as spec §3.2 suggests). The two alternate
 * step by step (the peer runs as a server beside our JVM), and the ratio is the median of per-pair ratios, as in
 * {@link PairTimer}: on a shared machine whose speed drifts, a pair of neighbouring steps sees the same drift.
 */
final class TrainCompare {
    private TrainCompare() {}

    /** Model sizes: {@code tiny} (the default) and {@code large} (hidden 512, 8 layers, 8 heads, L 1024, B 4). */
    record Size(String name, int hidden, int layers, int heads, int intermediate, int batch, int seq) {
        static Size parse(String name) {
            return switch (name) {
                case "tiny" -> new Size("tiny", 256, 4, 4, 688, 8, 512);
                case "large" -> new Size("large", 512, 8, 8, 1376, 4, 1024);
                default -> throw new IllegalArgumentException("--size: '" + name + "' is not tiny or large");
            };
        }

        DecoderConfig config(int seq) {
            return new DecoderConfig(256, hidden, layers, heads, intermediate, 1e-5f, 10000, false,
                    Math.max(seq, 2048), 0.02f, false);
        }

        /** The peer script's flags for this size. */
        List<String> peerFlags() {
            return List.of("--hidden", Integer.toString(hidden), "--layers", Integer.toString(layers), "--heads",
                    Integer.toString(heads), "--intermediate", Integer.toString(intermediate));
        }
    }

    /** One training step of our model on fresh random tokens (forward, backward, AdamW). */
    static final class OurStep implements Runnable {
        private final MoeModel model;
        private final AdamW opt;
        private final Rng rng = new Rng(2);
        private final int batch;
        private final int seq;
        private final boolean capture;
        private final List<Var> params;
        private final CapturedSteps captured = new CapturedSteps();

        OurStep(Size size, int experts, int segment, int batch, int seq) {
            DecoderConfig c = size.config(seq);
            MoeConfig mc = experts == 0 ? MoeConfig.dense(c) : MoeConfig.lory(c, experts, segment);
            this.model = new MoeModel(mc, new Rng(1));
            this.opt = new AdamW(model.lm().namedParameters());
            this.batch = batch;
            this.seq = seq;
            this.capture = dev.lory4j.moe.train.Trainer.capturesSteps();
            this.params = model.lm().parameters();
        }

        @Override
        public void run() {
            int[] x = new int[batch * seq];
            int[] y = new int[batch * seq];
            for (int i = 0; i < x.length; i++) {
                x[i] = rng.nextInt(256);
                y[i] = rng.nextInt(256);
            }
            if (capture) { // as the trainer: traced once, then replayed (or run compiled on a device)
                opt.zeroGrad();
                captured.run("step", params, Map.of("tokens", x, "targets", y),
                        () -> model.loss(x, y, batch, seq, -100), g -> {});
            } else {
                Var loss = model.loss(x, y, batch, seq, -100);
                opt.zeroGrad();
                loss.backward();
            }
            opt.step();
        }
    }

    /** One measured configuration: tokens/s of each side (medians) and the per-pair ratio ours / peer. */
    record Row(String model, String size, int threads, int batch, int seq, double oursTokensPerSecond,
               double peerTokensPerSecond, double ratio, double ratioP25, double ratioP75, int pairs, String peer,
               double oursLiveHeapMb, double oursPeakRssMb, double peerPeakRssMb) {

        /** The worker's line: tab-separated fields. */
        String toLine() {
            return String.join("\t", model, size, Integer.toString(threads), Integer.toString(batch),
                    Integer.toString(seq), Double.toString(oursTokensPerSecond), Double.toString(peerTokensPerSecond),
                    Double.toString(ratio), Double.toString(ratioP25), Double.toString(ratioP75),
                    Integer.toString(pairs), peer, Double.toString(oursLiveHeapMb), Double.toString(oursPeakRssMb),
                    Double.toString(peerPeakRssMb));
        }

        /** Inverse of {@link #toLine}. */
        static Row fromLine(String line) {
            String[] f = line.split("\t", -1);
            return new Row(f[0], f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4]),
                    Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]),
                    Double.parseDouble(f[8]), Double.parseDouble(f[9]), Integer.parseInt(f[10]), f[11],
                    Double.parseDouble(f[12]), Double.parseDouble(f[13]), Double.parseDouble(f[14]));
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("size", size);
            m.put("threads", threads);
            m.put("batch", batch);
            m.put("seq", seq);
            m.put("ours_tokens_per_s", oursTokensPerSecond);
            m.put("peer_tokens_per_s", peerTokensPerSecond);
            m.put("ratio", ratio);
            m.put("ratio_p25", ratioP25);
            m.put("ratio_p75", ratioP75);
            m.put("pairs", pairs);
            m.put("peer", peer);
            m.put("ours_live_heap_mb", oursLiveHeapMb);
            m.put("ours_peak_rss_mb", oursPeakRssMb);
            m.put("peer_peak_rss_mb", peerPeakRssMb);
            return m;
        }
    }

    /** "dense" or "lory-E{e}-T{t}". */
    static String modelName(int experts, int segment) {
        return experts == 0 ? "dense" : "lory-E" + experts + "-T" + segment;
    }

    /**
     * Median seconds per training step of our model, after {@code warmup} untimed steps (then {@code afterWarmup}
     * runs, e.g. to read a counter).
     */
    static double oursSecondsPerStep(Size size, int experts, int segment, int batch, int seq, int warmup, int steps,
                                     Runnable afterWarmup) {
        return medianSeconds(new OurStep(size, experts, segment, batch, seq), warmup, steps, afterWarmup);
    }

    /** Median seconds of {@code steps} timed runs of {@code step} after {@code warmup} untimed ones and afterWarmup. */
    static double medianSeconds(Runnable step, int warmup, int steps, Runnable afterWarmup) {
        for (int s = 0; s < warmup; s++) {
            step.run();
        }
        afterWarmup.run();
        double[] times = new double[steps];
        for (int s = 0; s < steps; s++) {
            times[s] = timed(step);
        }
        return PairTimer.quantile(times, 0.5);
    }

    /** A PyTorch peer running as a server: one step per request (train_bench.py --serve). */
    static final class PeerServer implements AutoCloseable {
        private final Process process;
        private final java.io.BufferedWriter in;
        private final BufferedReader out;
        final String name;

        /** Starts the peer and waits until its warm-up steps are done; throws with the reason it cannot run. */
        PeerServer(Path script, Size size, int experts, int segment, int batch, int seq, int threads, int warmup)
                throws IOException {
            if (!Files.isRegularFile(script)) {
                throw new IOException("peer script " + script + " not found (set LORY4J_ROOT to the repository)");
            }
            List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script.toString(), "--serve", "--threads",
                    Integer.toString(threads), "--warmup", Integer.toString(warmup), "--batch", Integer.toString(batch),
                    "--seq", Integer.toString(seq), "--experts", Integer.toString(experts), "--segment",
                    Integer.toString(segment)));
            cmd.addAll(size.peerFlags());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
            pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
            process = pb.start();
            in = new java.io.BufferedWriter(new java.io.OutputStreamWriter(process.getOutputStream(),
                    StandardCharsets.UTF_8));
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            StringBuilder seen = new StringBuilder();
            for (String line = out.readLine(); ; line = out.readLine()) {
                if (line == null) {
                    process.destroy();
                    throw new IOException("PyTorch peer failed (install: apt-get install python3-torch "
                            + "libopenblas0-pthread): " + seen.toString().strip().lines().reduce((a, b) -> b)
                            .orElse("no output"));
                }
                seen.append(line).append('\n');
                if (line.contains("\"ready\": true")) {
                    Matcher d = PEER.matcher(line);
                    name = d.find() ? d.group(1) : "pytorch";
                    break;
                }
            }
        }

        /** Runs one peer step and returns its seconds (as the peer timed it). */
        double step() {
            return Double.parseDouble(ask("step"));
        }

        /** The peer's peak resident set size so far, in bytes. */
        long peakRss() {
            return Long.parseLong(ask("rss"));
        }

        /** Sends one command line and returns the peer's one-line answer. */
        private String ask(String command) {
            try {
                in.write(command + "\n");
                in.flush();
                String line = out.readLine();
                if (line == null) {
                    throw new IllegalStateException("PyTorch peer stopped before answering '" + command
                            + "' (exit status " + (process.isAlive() ? "none yet" : process.exitValue()) + ")");
                }
                return line.strip();
            } catch (IOException e) {
                throw new IllegalStateException("PyTorch peer: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            try {
                in.close();
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                process.destroy();
            }
        }
    }

    /** Seconds per step of ours and of the peer (medians) and the quartiles of the per-pair ratio peer / ours. */
    record Paired(double oursSeconds, double peerSeconds, double ratio, double ratioP25, double ratioP75, int pairs) {}

    /**
     * Alternates our steps with the peer's, {@code pairs} pairs after the warm-up (ours first in even pairs, the
     * peer first in odd ones); the per-pair ratio is peer seconds / our seconds.
     */
    static Paired paired(Runnable ours, PeerServer peer, int warmup, int pairs) {
        for (int s = 0; s < warmup; s++) {
            ours.run();
        }
        double[] o = new double[pairs];
        double[] p = new double[pairs];
        double[] r = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            if ((i & 1) == 0) {
                o[i] = timed(ours);
                p[i] = peer.step();
            } else {
                p[i] = peer.step();
                o[i] = timed(ours);
            }
            r[i] = p[i] / o[i];
        }
        return new Paired(PairTimer.quantile(o, 0.5), PairTimer.quantile(p, 0.5), PairTimer.quantile(r, 0.5),
                PairTimer.quantile(r, 0.25), PairTimer.quantile(r, 0.75), pairs);
    }

    /** This process's peak resident set size in bytes (VmHWM of /proc/self/status), or -1 where unknown. */
    static long ownPeakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** Heap in use after a full collection (bytes): what a step keeps between steps (model, optimizer, buffers). */
    static long liveHeapAfterGc() {
        System.gc();
        return java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static double timed(Runnable step) {
        long t0 = System.nanoTime();
        step.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Trains for {@code steps} steps and returns the live heap (MB, after a full GC) measured every
     * {@code every} steps: flat numbers mean no leak across steps.
     */
    static List<Double> liveHeapMb(int experts, int segment, int batch, int seq, int steps, int every) {
        DecoderConfig c = new DecoderConfig(256, 256, 4, 4, 688, 1e-5f, 10000, false, Math.max(seq, 2048), 0.02f,
                false);
        MoeModel model = new MoeModel(experts == 0 ? MoeConfig.dense(c) : MoeConfig.lory(c, experts, segment),
                new Rng(1));
        AdamW opt = new AdamW(model.lm().namedParameters());
        Rng rng = new Rng(2);
        List<Double> live = new ArrayList<>();
        java.lang.management.MemoryMXBean mem = java.lang.management.ManagementFactory.getMemoryMXBean();
        for (int s = 1; s <= steps; s++) {
            int[] x = new int[batch * seq];
            int[] y = new int[batch * seq];
            for (int i = 0; i < x.length; i++) {
                x[i] = rng.nextInt(256);
                y[i] = rng.nextInt(256);
            }
            Var loss = model.loss(x, y, batch, seq, -100);
            opt.zeroGrad();
            loss.backward();
            opt.step();
            if (s % every == 0) {
                System.gc();
                live.add(mem.getHeapMemoryUsage().getUsed() / 1e6);
            }
        }
        return live;
    }

    private static final Pattern PEER = Pattern.compile("\"peer\": \"([^\"]+)\"");

    /** The table printed by {@code BenchMain train}. */
    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-16s %-6s %7s %10s %12s %12s %7s %13s %6s%n",
                "model", "size", "threads", "B x L", "ours tok/s", "peer tok/s", "ratio", "ratio p25-p75", "pairs"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-16s %-6s %7d %10s %12.0f %12.0f %7.2f %13s %6d%n", r.model(),
                    r.size(), r.threads(), r.batch() + " x " + r.seq(), r.oursTokensPerSecond(),
                    r.peerTokensPerSecond(), r.ratio(), String.format(Locale.ROOT, "%.2f-%.2f", r.ratioP25(),
                            r.ratioP75()), r.pairs()));
        }
        for (Row l : rows) {
            for (Row d : rows) {
                if (!l.model().equals("dense") && d.model().equals("dense") && d.threads() == l.threads()
                        && d.size().equals(l.size())) {
                    sb.append(String.format(Locale.ROOT,
                            "%s / dense step time (%s, %d threads): ours %.3f, peer %.3f%n",
                            l.model(), l.size(), l.threads(), d.oursTokensPerSecond() / l.oursTokensPerSecond(),
                            d.peerTokensPerSecond() / l.peerTokensPerSecond()));
                }
            }
        }
        sb.append(String.format(Locale.ROOT, "%n%-16s %-6s %7s %18s %16s %16s%n", "memory (MB)", "size", "threads",
                "ours live heap", "ours peak RSS", "peer peak RSS"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-16s %-6s %7d %18.0f %16.0f %16.0f%n", r.model(), r.size(),
                    r.threads(), r.oursLiveHeapMb(), r.oursPeakRssMb(), r.peerPeakRssMb()));
        }
        sb.append("live heap: after a full GC between steps (model, AdamW state, the step's reused buffers); peak RSS: "
                + "the process's high-water mark (a JVM's includes garbage not yet collected, up to its -Xmx)\n");
        if (!rows.isEmpty()) {
            sb.append("peer: ").append(rows.getFirst().peer()).append("; ratio = median of per-pair ratios ")
                    .append("(our step, then the peer's, alternating)\n");
        }
        return sb.toString();
    }
}
