package dev.lory4j.data;

/**
 * How a corpus is read.
 *
 * @param onMalformed     what to do with a malformed line or file: stop with a {@link CorpusFormatException},
 *                        or skip it and count it in the {@link ReadReport}
 * @param heldoutFraction the held-out fraction for documents that carry no split (see {@link Split#byHash})
 * @param defaultDomain   the domain of a JSONL document without a {@code domain} field when its file sits
 *                        directly in the corpus root; otherwise the folder name is used
 */
public record ReadOptions(OnMalformed onMalformed, double heldoutFraction, String defaultDomain) {
    /** What to do with malformed input. */
    public enum OnMalformed {
        /** Throw a {@link CorpusFormatException} naming file and line. */
        FAIL,
        /** Skip the line or file, count it, and keep its location in the report. */
        SKIP
    }

    /** Checks the values. */
    public ReadOptions {
        if (onMalformed == null) {
            throw new IllegalArgumentException("ReadOptions: onMalformed is null");
        }
        if (!(heldoutFraction >= 0 && heldoutFraction <= 1)) {
            throw new IllegalArgumentException("ReadOptions: heldoutFraction " + heldoutFraction + " not in [0, 1]");
        }
        if (defaultDomain == null || defaultDomain.isEmpty()) {
            throw new IllegalArgumentException("ReadOptions: defaultDomain must be a non-empty string");
        }
    }

    /** Fail on malformed input, 5% held out by hash, domain {@code default}. */
    public static ReadOptions defaults() {
        return new ReadOptions(OnMalformed.FAIL, 0.05, "default");
    }

    /** These options with another malformed-input policy. */
    public ReadOptions withOnMalformed(OnMalformed policy) {
        return new ReadOptions(policy, heldoutFraction, defaultDomain);
    }
}
