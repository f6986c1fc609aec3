package dev.lory4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a training step's time goes, from JFR execution samples (every 2 ms per running thread) taken only while
 * our steps run: by <b>kernel</b> (the innermost lory4j frame in {@code dev.lory4j.tensor}, over all threads; the
 * pool's spin-wait between parallel regions shows as {@code Parallel}) and by <b>op</b> (the innermost frame in
 * {@code dev.lory4j.autograd} or {@code dev.lory4j.moe} of the thread that runs the step, so work handed to pool
 * threads counts under the kernel table only). Samples are statistical: a share under about 1 % is noise.
 */
final class StepProfile {
    private final Map<String, Integer> byKernel = new HashMap<>();
    private final Map<String, Integer> byOp = new HashMap<>();
    private int kernelSamples;
    private int opSamples;
    private long gcNanos;
    private int steps;

    /** Runs {@code step} under a JFR recording and adds its samples. */
    void during(Runnable step) {
        Path file;
        try (Recording r = new Recording()) {
            r.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(2)).withStackTrace();
            r.enable("jdk.GarbageCollection");
            r.start();
            step.run();
            r.stop();
            file = Files.createTempFile("lory4j-step", ".jfr");
            r.dump(file);
        } catch (IOException e) {
            throw new UncheckedIOException("profile: could not write the JFR recording: " + e.getMessage(), e);
        }
        steps++;
        String stepThread = Thread.currentThread().getName();
        try {
            for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
                if (e.getEventType().getName().equals("jdk.GarbageCollection")) {
                    gcNanos += e.getDuration("sumOfPauses").toNanos();
                    continue;
                }
                RecordedStackTrace st = e.getStackTrace();
                if (st == null) {
                    continue;
                }
                List<RecordedFrame> frames = st.getFrames();
                kernelSamples++;
                byKernel.merge(innermost(frames, "dev.lory4j.tensor.", true), 1, Integer::sum);
                var thread = e.getThread("sampledThread");
                if (thread != null && stepThread.equals(thread.getJavaName())) {
                    opSamples++;
                    String op = innermost(frames, "dev.lory4j.autograd.", false);
                    if (op.equals("(other)")) {
                        op = innermost(frames, "dev.lory4j.moe.", false);
                    }
                    byOp.merge(op, 1, Integer::sum);
                }
            }
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("profile: could not read the JFR recording " + file + ": " + e.getMessage(),
                    e);
        }
    }

    /** "Class.method" of the innermost frame under {@code prefix} (lambdas folded into their method), or "(other)". */
    private static String innermost(List<RecordedFrame> frames, String prefix, boolean classOnlyForVectorApi) {
        for (RecordedFrame f : frames) {
            String cls = f.getMethod().getType().getName();
            if (cls.startsWith(prefix)) {
                String simple = cls.substring(cls.lastIndexOf('.') + 1);
                String method = f.getMethod().getName();
                int lambda = method.indexOf("lambda$");
                if (lambda >= 0) {
                    String rest = method.substring(lambda + "lambda$".length());
                    method = rest.contains("$") ? rest.substring(0, rest.indexOf('$')) : rest;
                }
                return simple + "." + method;
            }
        }
        if (classOnlyForVectorApi && !frames.isEmpty()) {
            return "(outside lory4j: " + frames.getFirst().getMethod().getType().getName() + ")";
        }
        return "(other)";
    }

    /** The two tables, biggest shares first (rows under 1 % folded into one). */
    String summary(String title) {
        StringBuilder sb = new StringBuilder();
        sb.append(title).append(String.format(Locale.ROOT, " (%d steps, %d samples on all threads; GC pauses %.1f ms "
                + "per step)%n", steps, kernelSamples, gcNanos / 1e6 / Math.max(1, steps)));
        table(sb, "kernel (all threads)", byKernel, kernelSamples);
        table(sb, "op (the step's thread)", byOp, opSamples);
        return sb.toString();
    }

    private static void table(StringBuilder sb, String heading, Map<String, Integer> counts, int total) {
        sb.append(String.format(Locale.ROOT, "  %-60s %7s%n", heading, "share"));
        int small = 0;
        for (Map.Entry<String, Integer> e : counts.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).toList()) {
            double share = 100.0 * e.getValue() / Math.max(1, total);
            if (share < 1) {
                small += e.getValue();
            } else {
                sb.append(String.format(Locale.ROOT, "  %-60s %6.1f%%%n", e.getKey(), share));
            }
        }
        if (small > 0) {
            sb.append(String.format(Locale.ROOT, "  %-60s %6.1f%%%n", "(each under 1 %)", 100.0 * small / total));
        }
    }
}
