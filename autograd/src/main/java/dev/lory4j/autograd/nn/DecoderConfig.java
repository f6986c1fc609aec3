package dev.lory4j.autograd.nn;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a LLaMA-style decoder. Keys of {@link #toMap()} follow Hugging Face's {@code config.json}
 * ({@code vocab_size}, {@code hidden_size}, ...) so a checkpoint's metadata reads familiarly.
 *
 * @param initStd standard deviation of the normal init of embeddings and projections (HF: initializer_range)
 * @param scaledInit when true, output projections (o_proj, down_proj) use initStd / sqrt(2 * layers) (GPT-2 style)
 */
public record DecoderConfig(int vocabSize, int hiddenSize, int numLayers, int numHeads, int intermediateSize,
                            float rmsNormEps, double ropeTheta, boolean tieWordEmbeddings, int maxPositions,
                            float initStd, boolean scaledInit) {

    /** Validates the sizes. */
    public DecoderConfig {
        if (vocabSize <= 0 || hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0
                || maxPositions <= 0) {
            throw new IllegalArgumentException("DecoderConfig: sizes must be positive: " + this);
        }
        if (hiddenSize % numHeads != 0 || (hiddenSize / numHeads) % 2 != 0) {
            throw new IllegalArgumentException("DecoderConfig: hidden_size " + hiddenSize + " must split into "
                    + numHeads + " heads of even size");
        }
    }

    /** The "tiny" benchmark configuration: vocab 256, hidden 256, 4 layers, 4 heads, intermediate 688. */
    public static DecoderConfig tiny() {
        return new DecoderConfig(256, 256, 4, 4, 688, 1e-5f, 10000, false, 2048, 0.02f, false);
    }

    /** The SwiGLU width for a model of width {@code hidden}: 8/3 of it, rounded up to a multiple of 8 (at least 8). */
    public static int swigluIntermediate(int hidden) {
        return Math.max(8, (hidden * 8 / 3 + 7) / 8 * 8);
    }

    /** A builder starting from {@link #tiny()}'s values; set what differs, then {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder(tiny());
    }

    /** A builder starting from this configuration's values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Named settings for a {@link DecoderConfig} (validated by {@link #build()}). */
    public static final class Builder {
        private int vocabSize;
        private int hiddenSize;
        private int numLayers;
        private int numHeads;
        private int intermediateSize;
        private float rmsNormEps;
        private double ropeTheta;
        private boolean tieWordEmbeddings;
        private int maxPositions;
        private float initStd;
        private boolean scaledInit;

        private Builder(DecoderConfig c) {
            vocabSize = c.vocabSize;
            hiddenSize = c.hiddenSize;
            numLayers = c.numLayers;
            numHeads = c.numHeads;
            intermediateSize = c.intermediateSize;
            rmsNormEps = c.rmsNormEps;
            ropeTheta = c.ropeTheta;
            tieWordEmbeddings = c.tieWordEmbeddings;
            maxPositions = c.maxPositions;
            initStd = c.initStd;
            scaledInit = c.scaledInit;
        }

        /** Vocabulary size (HF: vocab_size). */
        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        /** Model width (HF: hidden_size). */
        public Builder hiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        /** Decoder layers (HF: num_hidden_layers). */
        public Builder numLayers(int v) {
            numLayers = v;
            return this;
        }

        /** Attention heads (HF: num_attention_heads); hidden size / heads must be even. */
        public Builder numHeads(int v) {
            numHeads = v;
            return this;
        }

        /** Feed-forward width (HF: intermediate_size). */
        public Builder intermediateSize(int v) {
            intermediateSize = v;
            return this;
        }

        /** RMSNorm epsilon (HF: rms_norm_eps). */
        public Builder rmsNormEps(float v) {
            rmsNormEps = v;
            return this;
        }

        /** RoPE base (HF: rope_theta). */
        public Builder ropeTheta(double v) {
            ropeTheta = v;
            return this;
        }

        /** Whether the head shares the embedding matrix (HF: tie_word_embeddings). */
        public Builder tieWordEmbeddings(boolean v) {
            tieWordEmbeddings = v;
            return this;
        }

        /** Longest sequence the RoPE tables cover (HF: max_position_embeddings). */
        public Builder maxPositions(int v) {
            maxPositions = v;
            return this;
        }

        /** Standard deviation of the normal initialisation (HF: initializer_range). */
        public Builder initStd(float v) {
            initStd = v;
            return this;
        }

        /** Whether output projections use initStd / sqrt(2 · layers) (GPT-2 style). */
        public Builder scaledInit(boolean v) {
            scaledInit = v;
            return this;
        }

        /** The configuration (sizes checked). */
        public DecoderConfig build() {
            return new DecoderConfig(vocabSize, hiddenSize, numLayers, numHeads, intermediateSize, rmsNormEps,
                    ropeTheta, tieWordEmbeddings, maxPositions, initStd, scaledInit);
        }
    }

    /** Size of one attention head. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** The standard deviation for output projections. */
    public float outputStd() {
        return scaledInit ? (float) (initStd / Math.sqrt(2.0 * numLayers)) : initStd;
    }

    /** Hugging Face style keys (plus lory4j's own where HF has none). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", vocabSize);
        m.put("hidden_size", hiddenSize);
        m.put("num_hidden_layers", numLayers);
        m.put("num_attention_heads", numHeads);
        m.put("intermediate_size", intermediateSize);
        m.put("rms_norm_eps", rmsNormEps);
        m.put("rope_theta", ropeTheta);
        m.put("tie_word_embeddings", tieWordEmbeddings);
        m.put("max_position_embeddings", maxPositions);
        m.put("initializer_range", initStd);
        m.put("lory4j_scaled_init", scaledInit);
        return m;
    }

    /**
     * Reads the keys of {@link #toMap()} strictly ({@link dev.lory4j.autograd.io.ConfigMap}): types, exact
     * integers, ranges, and no unknown keys (Hugging Face keys lory4j does not use are accepted).
     */
    public static DecoderConfig fromMap(Map<String, ?> map) {
        dev.lory4j.autograd.io.ConfigMap c = new dev.lory4j.autograd.io.ConfigMap("config", map);
        DecoderConfig d = read(c);
        c.checkAllRead();
        return d;
    }

    /** Reads the decoder's keys of {@code c} (the caller checks for unknown keys, having read its own). */
    public static DecoderConfig read(dev.lory4j.autograd.io.ConfigMap c) {
        int max = Integer.MAX_VALUE;
        int heads = c.integer("num_attention_heads", null, 1, max);
        if (c.has("num_key_value_heads") && c.integer("num_key_value_heads", null, 1, max) != heads) {
            throw new IllegalArgumentException("config: 'num_key_value_heads' must equal 'num_attention_heads' ("
                    + heads + "): grouped-query attention is not supported");
        }
        return new DecoderConfig(c.integer("vocab_size", null, 1, max), c.integer("hidden_size", null, 1, max),
                c.integer("num_hidden_layers", null, 1, max), heads, c.integer("intermediate_size", null, 1, max),
                (float) c.real("rms_norm_eps", 1e-5, 0, true, 1), c.real("rope_theta", 10000, 0, true, 1e12),
                c.bool("tie_word_embeddings", false), c.integer("max_position_embeddings", 2048, 1, max),
                (float) c.real("initializer_range", 0.02, 0, false, 10), c.bool("lory4j_scaled_init", false));
    }
}
