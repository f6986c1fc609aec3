package dev.lory4j.autograd;

/**
 * A scope in which no graph is recorded: {@code try (NoGrad ng = NoGrad.enter()) { ... }}. Scopes nest and are
 * per thread, like {@code torch.no_grad()}.
 */
public final class NoGrad implements AutoCloseable {
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    private boolean closed;

    private NoGrad() {
        DEPTH.get()[0]++;
    }

    /** Enters a no-grad scope; close it (try-with-resources) to leave. */
    public static NoGrad enter() {
        return new NoGrad();
    }

    /** Whether operations on this thread currently record a graph. */
    public static boolean isGradEnabled() {
        return DEPTH.get()[0] == 0;
    }

    static int depth() {
        return DEPTH.get()[0];
    }

    static void setDepth(int d) {
        DEPTH.get()[0] = d;
    }

    /** Leaves the scope (idempotent). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            DEPTH.get()[0]--;
        }
    }
}
