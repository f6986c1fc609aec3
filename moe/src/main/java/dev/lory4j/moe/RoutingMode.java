package dev.lory4j.moe;

/** How a Lory layer chooses the merging weights of each segment (spec §2.5–2.7, §2.11). */
public enum RoutingMode {
    /**
     * Training (spec §2.5–2.6): segment k >= 1 is routed by the mean of segment k-1 of the same row; segment 0
     * by its own mean with a stop-gradient; the routing computed from the last segment is unused.
     */
    CAUSAL_SEGMENT,
    /**
     * Inference default (spec §2.7): one routing per row from the mean of the whole prompt, kept for the prompt
     * and for every generated token (decoding then costs what a dense model costs).
     */
    PROMPT_ONLY,
    /** Inference that re-routes every segment exactly as in training ("segment" inference, spec §2.7). */
    PER_SEGMENT,
    /**
     * The paper's ablation (spec §2.11): merge once per row from the first segment (its own routing, stop-gradient
     * as in training) and use that merged FFN for the whole row.
     */
    PREFIX
}
