package dev.lory4j.autograd.composite;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A place in a model that calls a {@link Composite} again and again (a layer owns one): kernels keep scratch there
 * between calls, e.g. a buffer reused every step instead of allocated. Holds no values the results depend on.
 */
public final class Site {
    private final Map<String, Object> scratch = new HashMap<>();

    /** The scratch object under {@code key}, made by {@code make} on first use. */
    @SuppressWarnings("unchecked")
    public synchronized <T> T scratch(String key, Supplier<T> make) {
        return (T) scratch.computeIfAbsent(key, k -> make.get());
    }
}
