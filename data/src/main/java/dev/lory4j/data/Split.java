package dev.lory4j.data;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Which part of a corpus a document belongs to: training, or held out for evaluation. */
public enum Split {
    TRAIN("train"),
    HELDOUT("heldout");

    private final String label;

    Split(String label) {
        this.label = label;
    }

    /** The label used in JSONL files ({@code "train"} or {@code "heldout"}). */
    public String label() {
        return label;
    }

    /** Parses a JSONL label ({@code train}/{@code heldout}, also {@code test}/{@code valid}/{@code validation} as held out). */
    public static Split parse(String label) {
        return switch (label) {
            case "train" -> TRAIN;
            case "heldout", "held-out", "test", "valid", "validation" -> HELDOUT;
            default -> throw new IllegalArgumentException(
                    "Split.parse: '" + label + "' is not a split (expected train or heldout)");
        };
    }

    /**
     * The split of a document that carries none: held out when the first 8 bytes of SHA-256(id), read as an
     * unsigned big-endian number, fall below {@code heldoutFraction} of 2^64. A pure function of the id, so
     * the split stays fixed when documents are added or removed.
     */
    public static Split byHash(String id, double heldoutFraction) {
        if (!(heldoutFraction >= 0 && heldoutFraction <= 1)) {
            throw new IllegalArgumentException("Split.byHash: heldoutFraction " + heldoutFraction + " not in [0, 1]");
        }
        long h = hash64(id);
        // compare h / 2^64 with the fraction without overflow: use the top 53 bits as a double in [0, 1)
        double u = (h >>> 11) * 0x1.0p-53;
        return u < heldoutFraction ? HELDOUT : TRAIN;
    }

    /** The first 8 bytes of SHA-256 of the UTF-8 id as a big-endian long. */
    public static long hash64(String id) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (d[i] & 0xff);
            }
            return h;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from this JDK", e);
        }
    }
}
