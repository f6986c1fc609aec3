package dev.lory4j.moe.train;

/** Receives what a training run does, step by step. */
public interface ProgressListener {
    /** After each optimizer step; {@code etaSeconds} estimates the time left. */
    void onStep(Trainer.StepLog step, int totalSteps, double etaSeconds);

    /** After each evaluation. */
    void onEval(Trainer.EvalResult eval);

    /** A notable event (upcycling, checkpoint, resume). */
    void onMessage(String message);

    /** This listener, then {@code action} after each step (e.g. a stop request or a fault drill). */
    default ProgressListener afterStep(java.util.function.Consumer<Trainer.StepLog> action) {
        ProgressListener self = this;
        return new ProgressListener() {
            @Override
            public void onStep(Trainer.StepLog step, int totalSteps, double etaSeconds) {
                self.onStep(step, totalSteps, etaSeconds);
                action.accept(step);
            }

            @Override
            public void onEval(Trainer.EvalResult eval) {
                self.onEval(eval);
            }

            @Override
            public void onMessage(String message) {
                self.onMessage(message);
            }
        };
    }

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
