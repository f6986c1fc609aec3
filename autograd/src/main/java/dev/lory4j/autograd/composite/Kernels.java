package dev.lory4j.autograd.composite;

import dev.lory4j.tensor.spi.Backend;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.WeakHashMap;

/** The kernels registered for each backend instance: the built-in CPU ones and those of every {@link KernelProvider}. */
public final class Kernels {
    private Kernels() {}

    private static final Map<Backend, Map<String, Kernel<?>>> BY_BACKEND = new WeakHashMap<>();
    private static final ThreadLocal<int[]> OFF = ThreadLocal.withInitial(() -> new int[1]);
    private static final ThreadLocal<java.util.Set<String>> ONLY = new ThreadLocal<>();
    private static List<KernelProvider> providers;

    private static final Map<Backend, Backend> ALIASES = new java.util.IdentityHashMap<>();

    /**
     * Makes {@code wrapper} (a backend that forwards to {@code target}, such as a capture's recorder) use the kernels
     * of {@code target}; null target removes the alias.
     */
    public static synchronized void alias(Backend wrapper, Backend target) {
        if (target == null) {
            ALIASES.remove(wrapper);
        } else {
            ALIASES.put(wrapper, target);
        }
    }

    /** The kernels registered for {@code backend}, keyed by composite name (unmodifiable). */
    public static synchronized Map<String, Kernel<?>> registered(Backend backend) {
        while (ALIASES.containsKey(backend)) {
            backend = ALIASES.get(backend);
        }
        Map<String, Kernel<?>> found = BY_BACKEND.get(backend);
        if (found == null) {
            Map<String, Kernel<?>> all = new HashMap<>(CpuKernels.INSTANCE.kernels(backend));
            for (KernelProvider p : providers()) {
                all.putAll(p.kernels(backend));
            }
            found = Map.copyOf(all);
            BY_BACKEND.put(backend, found);
        }
        return found;
    }

    /** Sets the kernels of one backend instance (tests in this package). */
    static synchronized void put(Backend backend, Map<String, Kernel<?>> kernels) {
        BY_BACKEND.put(backend, Map.copyOf(kernels));
    }

    /** The kernel {@code backend} registered for {@code op}, or null (then the reference runs). */
    @SuppressWarnings("unchecked")
    static <A> Kernel<A> find(Backend backend, Composite<A> op) {
        if (OFF.get()[0] > 0 || ONLY.get() != null && !ONLY.get().contains(op.name())) {
            return null;
        }
        return (Kernel<A>) registered(backend).get(op.name());
    }

    /**
     * Runs {@code body} with every composite on this thread taking its reference decomposition (nested ones too):
     * the pure decomposition into primitives that kernels are compared with.
     */
    public static <T> T withoutKernels(java.util.function.Supplier<T> body) {
        OFF.get()[0]++;
        try {
            return body.get();
        } finally {
            OFF.get()[0]--;
        }
    }

    /**
     * Runs {@code body} with only the kernels of the composites named in {@code names} on this thread; every other
     * composite takes its reference decomposition (a trace for a graph compiler that lowers just those composites).
     */
    public static <T> T only(java.util.Set<String> names, java.util.function.Supplier<T> body) {
        java.util.Set<String> before = ONLY.get();
        ONLY.set(java.util.Set.copyOf(names));
        try {
            return body.get();
        } finally {
            ONLY.set(before);
        }
    }

    /** Adds a provider besides those found by ServiceLoader (a program or test that brings its own kernels). */
    public static synchronized void register(KernelProvider provider) {
        List<KernelProvider> all = new java.util.ArrayList<>(providers());
        all.add(provider);
        providers = List.copyOf(all);
        BY_BACKEND.clear();
    }

    /** Removes a provider added by {@link #register}. */
    public static synchronized void unregister(KernelProvider provider) {
        providers = providers().stream().filter(p -> p != provider).toList();
        BY_BACKEND.clear();
    }

    private static synchronized List<KernelProvider> providers() {
        if (providers == null) {
            providers = ServiceLoader.load(KernelProvider.class).stream().map(ServiceLoader.Provider::get).toList();
        }
        return providers;
    }
}
