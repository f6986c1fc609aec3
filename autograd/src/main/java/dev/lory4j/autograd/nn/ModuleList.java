package dev.lory4j.autograd.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Child modules named 0, 1, 2, ... (as {@code model.layers.{i}}). */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    /** Appends a module under the next index. */
    public M add(M m) {
        registerModule(Integer.toString(items.size()), m);
        items.add(m);
        return m;
    }

    /** Module i. */
    public M get(int i) {
        return items.get(i);
    }

    /** Number of modules. */
    public int size() {
        return items.size();
    }

    /** The modules in order (read-only). */
    public List<M> items() {
        return Collections.unmodifiableList(items);
    }
}
