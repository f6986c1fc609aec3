package dev.lory4j.cli;

import dev.lory4j.tensor.VectorApi;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lory4j} command-line program: one subcommand per job, {@code --help} on each. */
@Command(name = "lory4j", mixinStandardHelpOptions = true, version = "lory4j 0.1.0-SNAPSHOT",
        description = "Train, evaluate, sample from and look inside Lory mixture-of-experts language models.%n"
                + "JVM flags (LORY4J_JVM_OPTS): -Dlory4j.threads=N sets the kernel threads (default: all cores); "
                + "-Dlory4j.backend=cpu|tornado picks a backend.",
        footer = {"%nAlso (through the launcher): lory4j bench ... (side-by-side measurements) and lory4j spark "
                + "batch|train|demo (the data pipeline and data-parallel training on Apache Spark)."},
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, GenerateCommand.class,
            InspectCommand.class, ExportCommand.class, TourCommand.class, DumpCommand.class, ExperimentCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Where commands print (the caller's stream: a terminal, or a test's buffer). */
    PrintStream out = System.out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(out);
    }

    /** Entry point; exits with status 2 and a one-line reason on bad arguments or input. */
    public static void main(String[] args) {
        try {
            VectorApi.require();
        } catch (IllegalStateException e) {
            System.err.println("lory4j: " + e.getMessage());
            System.exit(2);
        }
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command, printing to {@code out} and errors to {@code err}; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Main main = new Main();
        main.out = out;
        CommandLine cl = new CommandLine(main);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            String what = "lory4j " + line.getCommandName() + ": ";
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof IOException || e instanceof UncheckedIOException) {
                line.getErr().println(what + message(e));
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }

    /** The message of e, with the cause's where it adds the reason (a file error: the path and why). */
    static String message(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Throwable c = e instanceof UncheckedIOException ? e.getCause() : null;
        if (e instanceof java.nio.file.NoSuchFileException n) {
            return n.getFile() + ": no such file or directory";
        }
        if (e instanceof java.nio.file.AccessDeniedException a) {
            return a.getFile() + ": permission denied";
        }
        return c != null && c.getMessage() != null && !m.contains(c.getMessage()) ? m + ": " + c.getMessage() : m;
    }
}
