package dev.lory4j.moe.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * A progress bar on a terminal ({@code [#####.....] step 40/200 loss 3.21 2,150 tok/s ETA 1m12s}), redrawn in
 * place; when the output is not a terminal, one line every {@code every} steps instead.
 */
public final class ConsoleProgress implements ProgressListener {
    private final PrintStream out;
    private final String label;
    private final boolean tty;
    private final int every;

    /** Progress for a run named {@code label}, printing to {@code out}. */
    public ConsoleProgress(PrintStream out, String label, int every) {
        this.out = out;
        this.label = label;
        this.tty = System.console() != null && System.getenv("CI") == null;
        this.every = Math.max(1, every);
    }

    @Override
    public void onStep(Trainer.StepLog s, int total, double eta) {
        int done = s.step() + 1;
        if (!tty && done % every != 0 && done != total) {
            return;
        }
        int width = 24;
        int filled = (int) Math.round(width * (double) done / total);
        String line = String.format(Locale.ROOT, "%s [%s%s] step %d/%d %s loss %.4f lr %.2e %,.0f tok/s ETA %s",
                label, "#".repeat(filled), ".".repeat(width - filled), done, total, s.phase(), s.loss(), s.lr(),
                s.tokensPerSecond(), duration(eta));
        if (tty) {
            out.print("\r" + line + (done == total ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void onEval(Trainer.EvalResult e) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s eval @ step %d:", label, e.step()));
        for (Map.Entry<String, Double> d : e.perplexity().entrySet()) {
            sb.append(String.format(Locale.ROOT, " %s ppl %.2f", d.getKey(), d.getValue()));
        }
        out.println((tty ? "\n" : "") + sb);
    }

    @Override
    public void onMessage(String message) {
        out.println((tty ? "\n" : "") + label + ": " + message);
    }

    /** Formats seconds as 1h02m, 3m12s or 45s. */
    public static String duration(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        return s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
    }
}
