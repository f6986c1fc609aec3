package dev.lory4j.moe.train;

/** Receives what a training run does, step by step. */
public interface ProgressListener {
    /** After each optimizer step; {@code etaSeconds} estimates the time left. */
    void onStep(Trainer.StepLog step, int totalSteps, double etaSeconds);

    /** After each evaluation. */
    void onEval(Trainer.EvalResult eval);

    /** A notable event (upcycling, checkpoint, resume). */
    void onMessage(String message);

    /** A listener that hands each message to {@code messages} and ignores steps and evaluations. */
    static ProgressListener messages(java.util.function.Consumer<String> messages) {
        return new ProgressListener() {
            @Override
            public void onStep(Trainer.StepLog step, int totalSteps, double etaSeconds) {}

            @Override
            public void onEval(Trainer.EvalResult eval) {}

            @Override
            public void onMessage(String message) {
                messages.accept(message);
            }
        };
    }

    /** A listener that ignores everything. */
    static ProgressListener silent() {
        return messages(message -> { });
    }
}
