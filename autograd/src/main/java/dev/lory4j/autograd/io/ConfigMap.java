package dev.lory4j.autograd.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Strict reading of a config map (a parsed {@code config.json}): every value is checked for its type and range with
 * an error that names the key, the expected type or range and what was written; {@link #checkAllRead} refuses keys
 * nobody read, suggesting the nearest known one. Keys of Hugging Face configs that lory4j does not use are accepted
 * (listed in {@link #IGNORED}).
 */
public final class ConfigMap {
    /** Hugging Face keys a config may carry that lory4j does not need (the values are not read). */
    public static final Set<String> IGNORED = Set.of("architectures", "model_type", "torch_dtype", "hidden_act",
            "attention_bias", "mlp_bias", "bos_token_id", "eos_token_id", "pad_token_id", "transformers_version",
            "use_cache", "attention_dropout", "pretraining_tp", "_name_or_path", "head_dim");

    private final String what;
    private final Map<String, ?> map;
    private final Set<String> known = new LinkedHashSet<>();

    /** Reads {@code map}; {@code what} starts every error (e.g. {@code "config run/config.json"}). */
    public ConfigMap(String what, Map<String, ?> map) {
        this.what = what;
        this.map = map;
    }

    private IllegalArgumentException bad(String key, String want) {
        Object v = map.get(key);
        String shown = v instanceof String s ? "\"" + s + "\"" : String.valueOf(v);
        return new IllegalArgumentException(what + ": '" + key + "' must be " + want + ", got " + shown);
    }

    /** Whether the key is present (and not null). */
    public boolean has(String key) {
        known.add(key);
        return map.get(key) != null;
    }

    /** v as an exact integer, or null when it is not one (a fraction, a string, too large). */
    private static Long exact(Object v) {
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof Number d && Double.isFinite(d.doubleValue()) && d.doubleValue() == Math.rint(d.doubleValue())
                && Math.abs(d.doubleValue()) < 9.0e15) {
            return (long) d.doubleValue();
        }
        return null;
    }

    /** An exact integer in [min, max]; {@code byDefault} when absent (null: the key is required). */
    public int integer(String key, Integer byDefault, long min, long max) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            if (byDefault == null) {
                throw new IllegalArgumentException(what + ": '" + key + "' is missing (an integer in [" + min + ", "
                        + max + "])");
            }
            return byDefault;
        }
        Long n = exact(v);
        if (n == null || n < min || n > max) {
            throw bad(key, "an integer in [" + min + ", " + max + "]");
        }
        return (int) (long) n;
    }

    /** An exact integer of any long value; {@code byDefault} when absent. */
    public long longInteger(String key, long byDefault) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            return byDefault;
        }
        Long n = exact(v);
        if (n == null) {
            throw bad(key, "an integer");
        }
        return n;
    }

    /** A finite number in [min, max] ({@code minExclusive}: above min); {@code byDefault} when absent. */
    public double real(String key, double byDefault, double min, boolean minExclusive, double max) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            return byDefault;
        }
        String range = (minExclusive ? "(" : "[") + min + ", " + max + "]";
        if (!(v instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw bad(key, "a number in " + range);
        }
        double d = n.doubleValue();
        if (d < min || (minExclusive && d == min) || d > max) {
            throw bad(key, "a number in " + range);
        }
        return d;
    }

    /** true or false; {@code byDefault} when absent. */
    public boolean bool(String key, boolean byDefault) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            return byDefault;
        }
        if (!(v instanceof Boolean b)) {
            throw bad(key, "true or false");
        }
        return b;
    }

    /** A string; {@code byDefault} when absent. */
    public String string(String key, String byDefault) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            return byDefault;
        }
        if (!(v instanceof String s)) {
            throw bad(key, "a string");
        }
        return s;
    }

    /** A list of exact integers in [min, max]; empty when absent. */
    public List<Integer> integers(String key, long min, long max) {
        known.add(key);
        Object v = map.get(key);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof Collection<?> c)) {
            throw bad(key, "a list of integers in [" + min + ", " + max + "]");
        }
        List<Integer> out = new ArrayList<>();
        for (Object o : c) {
            Long n = exact(o);
            if (n == null || n < min || n > max) {
                throw bad(key, "a list of integers in [" + min + ", " + max + "]");
            }
            out.add((int) (long) n);
        }
        return out;
    }

    /** Fails on a key no reader asked for (nor {@link #IGNORED}), naming the nearest known key. */
    public void checkAllRead() {
        for (String k : map.keySet()) {
            if (!known.contains(k) && !IGNORED.contains(k)) {
                String near = null;
                int best = Integer.MAX_VALUE;
                for (String c : known) {
                    int d = distance(k, c);
                    if (d < best) {
                        best = d;
                        near = c;
                    }
                }
                throw new IllegalArgumentException(what + ": unknown key '" + k + "'"
                        + (near != null && best <= Math.max(3, k.length() / 3) ? " (did you mean '" + near + "'?)"
                        : " (known: " + String.join(", ", known) + ")"));
            }
        }
    }

    /** Edit distance (insertions, deletions, substitutions). */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
