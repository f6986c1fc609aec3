package dev.lory4j.moe;

import dev.lory4j.autograd.nn.DecoderConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A decoder plus its mixture-of-experts settings. Config keys (next to the Hugging Face ones of
 * {@link DecoderConfig}): {@code moe_kind}, {@code num_experts}, {@code segment_length}, {@code moe_layers}
 * (list of layer indices; absent or empty = every layer, as in Lory), {@code router_bias}, {@code top_k},
 * {@code routing_mode} (the inference mode), {@code router_init_std}, {@code aux_loss_coef},
 * {@code capacity_factor}.
 */
public record MoeConfig(DecoderConfig decoder, MoeKind kind, int numExperts, int segmentLength, List<Integer> moeLayers,
                        boolean routerBias, int topK, RoutingMode routingMode, float routerInitStd, float auxLossCoef,
                        float capacityFactor) {

    /** Validates the settings. */
    public MoeConfig {
        moeLayers = List.copyOf(moeLayers);
        if (kind != MoeKind.DENSE && numExperts < 1) {
            throw new IllegalArgumentException("MoeConfig: num_experts " + numExperts + " must be >= 1");
        }
        if (segmentLength < 1) {
            throw new IllegalArgumentException("MoeConfig: segment_length " + segmentLength + " must be >= 1");
        }
        for (int l : moeLayers) {
            if (l < 0 || l >= decoder.numLayers()) {
                throw new IllegalArgumentException("MoeConfig: moe_layers entry " + l + " outside [0, "
                        + decoder.numLayers() + ")");
            }
        }
        if (kind == MoeKind.TOPK && (topK < 1 || topK > numExperts)) {
            throw new IllegalArgumentException("MoeConfig: top_k " + topK + " must be in [1, " + numExperts + "]");
        }
    }

    /** A dense model of the given shape. */
    public static MoeConfig dense(DecoderConfig d) {
        return new MoeConfig(d, MoeKind.DENSE, 1, 128, List.of(), false, 1, RoutingMode.PROMPT_ONLY, 0.02f, 0.01f, 1f);
    }

    /** A Lory model with E experts and segment length T in every layer. */
    public static MoeConfig lory(DecoderConfig d, int experts, int segmentLength) {
        return new MoeConfig(d, MoeKind.LORY, experts, segmentLength, List.of(), false, 1, RoutingMode.PROMPT_ONLY,
                0.02f, 0.01f, 1f);
    }

    /** The same settings with another kind. */
    public MoeConfig withKind(MoeKind k) {
        return new MoeConfig(decoder, k, numExperts, segmentLength, moeLayers, routerBias, k == MoeKind.TOPK ? Math.max(topK, 1) : topK,
                routingMode, routerInitStd, auxLossCoef, capacityFactor);
    }

    /** Whether block {@code layer} uses the MoE kind (else dense). */
    public boolean isMoeLayer(int layer) {
        return kind != MoeKind.DENSE && (moeLayers.isEmpty() || moeLayers.contains(layer));
    }

    /** All keys: Hugging Face ones plus the MoE ones. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>(decoder.toMap());
        m.put("moe_kind", kind.key());
        m.put("num_experts", numExperts);
        m.put("segment_length", segmentLength);
        m.put("moe_layers", new ArrayList<>(moeLayers));
        m.put("router_bias", routerBias);
        m.put("top_k", topK);
        m.put("routing_mode", routingMode.name().toLowerCase(Locale.ROOT));
        m.put("router_init_std", routerInitStd);
        m.put("aux_loss_coef", auxLossCoef);
        m.put("capacity_factor", capacityFactor);
        return m;
    }

    /**
     * Reads {@link #toMap()} keys strictly (types, exact integers, ranges, no unknown keys; see
     * {@link dev.lory4j.autograd.io.ConfigMap}); MoE keys are optional (a plain Hugging Face config is a dense model).
     */
    public static MoeConfig fromMap(Map<String, ?> m) {
        dev.lory4j.autograd.io.ConfigMap c = new dev.lory4j.autograd.io.ConfigMap("config", m);
        DecoderConfig d = DecoderConfig.read(c);
        MoeKind kind;
        try {
            kind = MoeKind.parse(c.string("moe_kind", "dense"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config: " + e.getMessage(), e);
        }
        String mode = c.string("routing_mode", "prompt_only");
        RoutingMode rm;
        try {
            rm = RoutingMode.valueOf(mode.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config: 'routing_mode' must be one of causal_segment, prompt_only, "
                    + "per_segment, prefix, got \"" + mode + "\"", e);
        }
        int max = Integer.MAX_VALUE;
        MoeConfig out = new MoeConfig(d, kind, c.integer("num_experts", 8, 1, max),
                c.integer("segment_length", 128, 1, max), c.integers("moe_layers", 0, d.numLayers() - 1),
                c.bool("router_bias", false), c.integer("top_k", 2, 1, max), rm,
                (float) c.real("router_init_std", 0.02, 0, false, 10), (float) c.real("aux_loss_coef", 0.01, 0, false,
                1e6), (float) c.real("capacity_factor", 1.0, 0, true, 1e6));
        c.checkAllRead();
        return out;
    }
}
