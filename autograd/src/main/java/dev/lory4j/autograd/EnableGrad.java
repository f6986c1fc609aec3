package dev.lory4j.autograd;

/**
 * A scope in which graphs are recorded even inside a {@link NoGrad} scope ({@code torch.enable_grad()}):
 * {@code try (EnableGrad eg = EnableGrad.enter()) { ... }}. Per thread; the enclosing scopes resume on close.
 */
public final class EnableGrad implements AutoCloseable {
    private final int saved;
    private boolean closed;

    private EnableGrad() {
        saved = NoGrad.depth();
        NoGrad.setDepth(0);
    }

    /** Enters a scope that records graphs; close it (try-with-resources) to leave. */
    public static EnableGrad enter() {
        return new EnableGrad();
    }

    /** Restores the enclosing scopes (idempotent). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            NoGrad.setDepth(saved);
        }
    }
}
