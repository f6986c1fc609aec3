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
 * Training-step throughput of the "tiny" decoder (vocab 256, hidden 256, 4 layers, 4 heads, intermediate 688,
 * AdamW) dense or Lory, in lory4j and in PyTorch ({@code tools/torch/train_bench.py}, the same model written
 * plainly in PyTorch, Lory merged with one matmul and bmm as spec §3.2 suggests), one right after the other.
 */
final class TrainCompare {
    private TrainCompare() {}

    /** One measured configuration. */
    record Row(String model, int threads, int batch, int seq, double oursTokensPerSecond, double peerTokensPerSecond,
               String peer) {
        double ratio() {
            return oursTokensPerSecond / peerTokensPerSecond;
        }

        String toLine() {
            return String.join("\t", model, Integer.toString(threads), Integer.toString(batch), Integer.toString(seq),
                    Double.toString(oursTokensPerSecond), Double.toString(peerTokensPerSecond), peer);
        }

        static Row parse(String line) {
            String[] f = line.split("\t", -1);
            return new Row(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), f[6]);
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("threads", threads);
            m.put("batch", batch);
            m.put("seq", seq);
            m.put("ours_tokens_per_s", oursTokensPerSecond);
            m.put("peer_tokens_per_s", peerTokensPerSecond);
            m.put("ratio", ratio());
            m.put("peer", peer);
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
    static double oursSecondsPerStep(int experts, int segment, int batch, int seq, int warmup, int steps,
                                     Runnable afterWarmup) {
        DecoderConfig c = new DecoderConfig(256, 256, 4, 4, 688, 1e-5f, 10000, false, Math.max(seq, 2048), 0.02f,
                false);
        MoeConfig mc = experts == 0 ? MoeConfig.dense(c) : MoeConfig.lory(c, experts, segment);
        MoeModel model = new MoeModel(mc, new Rng(1));
        AdamW opt = new AdamW(model.lm().namedParameters());
        Rng rng = new Rng(2);
        double[] times = new double[steps];
        boolean capture = Boolean.getBoolean("lory4j.capture")
                || CapturedSteps.compilerFor(dev.lory4j.tensor.spi.Backends.current()) != null;
        List<Var> params = model.lm().parameters();
        CapturedSteps captured = new CapturedSteps();
        for (int s = 0; s < warmup + steps; s++) {
            if (s == warmup) {
                afterWarmup.run();
            }
            int[] x = new int[batch * seq];
            int[] y = new int[batch * seq];
            for (int i = 0; i < x.length; i++) {
                x[i] = rng.nextInt(256);
                y[i] = rng.nextInt(256);
            }
            long t0 = System.nanoTime();
            if (capture) { // traced once, then replayed (-Dlory4j.capture=true) or run compiled (a device)
                opt.zeroGrad();
                captured.run("step", params, Map.of("tokens", x, "targets", y),
                        () -> model.loss(x, y, batch, seq, -100), g -> {});
            } else {
                Var loss = model.loss(x, y, batch, seq, -100);
                opt.zeroGrad();
                loss.backward();
            }
            opt.step();
            double dt = (System.nanoTime() - t0) / 1e9;
            if (s >= warmup) {
                times[s - warmup] = dt;
            }
        }
        Arrays.sort(times);
        return times[steps / 2];
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

    private static final Pattern TOKENS = Pattern.compile("\"tokens_per_s\": ([0-9.eE+-]+)");
    private static final Pattern PEER = Pattern.compile("\"peer\": \"([^\"]+)\"");

    /** Runs the PyTorch peer; returns {tokens/s, description} or throws with the reason it could not run. */
    static Object[] peer(Path script, int experts, int segment, int batch, int seq, int threads, int warmup,
                         int steps) throws IOException, InterruptedException {
        if (!Files.isRegularFile(script)) {
            throw new IOException("peer script " + script + " not found (set LORY4J_ROOT to the repository)");
        }
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script.toString(), "--threads",
                Integer.toString(threads), "--steps", Integer.toString(steps), "--warmup", Integer.toString(warmup),
                "--batch", Integer.toString(batch), "--seq", Integer.toString(seq), "--experts",
                Integer.toString(experts), "--segment", Integer.toString(segment)));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        Process p = pb.start();
        p.getOutputStream().close();
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                out.append(line).append('\n');
            }
        }
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("PyTorch peer failed (install: apt-get install python3-torch "
                    + "libopenblas0-pthread): " + out.toString().strip().lines().reduce((a, b) -> b).orElse(""));
        }
        Matcher m = TOKENS.matcher(out);
        Matcher d = PEER.matcher(out);
        if (!m.find()) {
            throw new IOException("PyTorch peer printed no tokens_per_s: " + out);
        }
        return new Object[] {Double.parseDouble(m.group(1)), d.find() ? d.group(1) : "pytorch"};
    }

    /** The table printed by {@code BenchMain train}. */
    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-16s %7s %12s %12s %7s%n", "model",
                "threads", "ours tok/s", "peer tok/s", "ratio"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-16s %7d %12.0f %12.0f %7.2f%n", r.model(), r.threads(),
                    r.oursTokensPerSecond(), r.peerTokensPerSecond(), r.ratio()));
        }
        for (Row l : rows) {
            for (Row d : rows) {
                if (!l.model().equals("dense") && d.model().equals("dense") && d.threads() == l.threads()) {
                    sb.append(String.format(Locale.ROOT, "%s / dense step time at %d threads: ours %.3f, peer %.3f%n",
                            l.model(), l.threads(), d.oursTokensPerSecond() / l.oursTokensPerSecond(),
                            d.peerTokensPerSecond() / l.peerTokensPerSecond()));
                }
            }
        }
        return sb.toString();
    }
}
