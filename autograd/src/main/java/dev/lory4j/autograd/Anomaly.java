package dev.lory4j.autograd;

import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;

/**
 * Anomaly mode: while enabled, the first operation whose forward output or backward gradient holds NaN or Inf
 * (when its own inputs did not) throws {@link AnomalyException} naming the op and its input shapes. It costs
 * one scan per op, so it is off by default: {@code try (Anomaly a = Anomaly.enable()) { ... }}.
 */
public final class Anomaly implements AutoCloseable {
    private static volatile int enabled;
    private boolean closed;

    private Anomaly() {
        synchronized (Anomaly.class) {
            enabled++;
        }
    }

    /** Turns anomaly detection on until the returned scope is closed. */
    public static Anomaly enable() {
        return new Anomaly();
    }

    /** Whether anomaly detection is on. */
    public static boolean isEnabled() {
        return enabled > 0;
    }

    /** Leaves the scope (idempotent). */
    @Override
    public void close() {
        synchronized (Anomaly.class) {
            if (!closed) {
                closed = true;
                enabled--;
            }
        }
    }

    /** Thrown by anomaly mode at the first op that produced a non-finite value. */
    public static final class AnomalyException extends ArithmeticException {
        private final String op;

        AnomalyException(String op, String message) {
            super(message);
            this.op = op;
        }

        /** Name of the op that produced the value. */
        public String op() {
            return op;
        }
    }

    static boolean finite(Tensor t) {
        for (float v : t.toArray()) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    static String shapes(Var[] inputs) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < inputs.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(Shapes.str(inputs[i].data().shape()));
        }
        return sb.toString();
    }

    static void checkForward(String op, Tensor out, Var[] inputs) {
        if (finite(out)) {
            return;
        }
        for (Var v : inputs) {
            if (!finite(v.data())) {
                return; // the non-finite value came in from outside this op
            }
        }
        throw new AnomalyException(op, "anomaly: op '" + op + "' produced NaN/Inf in forward from finite inputs of shapes "
                + shapes(inputs));
    }

    static void checkBackward(String op, Tensor gradOut, Tensor[] grads, Var[] inputs) {
        if (!finite(gradOut)) {
            return;
        }
        for (Tensor g : grads) {
            if (g != null && !finite(g)) {
                throw new AnomalyException(op, "anomaly: backward of op '" + op
                        + "' produced NaN/Inf from a finite gradient; input shapes " + shapes(inputs));
            }
        }
    }
}
