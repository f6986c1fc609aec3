package dev.lory4j.moe;

import java.util.Locale;

/** Which feed-forward block the MoE layers of a model use ({@code moe_kind} in configs). */
public enum MoeKind {
    /** Dense SwiGLU everywhere (the baseline at equal active parameters). */
    DENSE,
    /** Lory: soft merging in parameter space with causal segment routing. */
    LORY,
    /** Token-level top-k MoE with the Switch load-balancing loss. */
    TOPK,
    /** Token-level Expert Choice with capacity factor 1. */
    EXPERT_CHOICE;

    /** The config spelling, e.g. {@code expert_choice}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a config value such as {@code lory}; the error lists the valid ones. */
    public static MoeKind parse(String s) {
        for (MoeKind k : values()) {
            if (k.key().equalsIgnoreCase(s.strip())) {
                return k;
            }
        }
        throw new IllegalArgumentException("moe_kind '" + s + "' is not one of dense, lory, topk, expert_choice");
    }
}
