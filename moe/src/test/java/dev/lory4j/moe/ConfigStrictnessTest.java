package dev.lory4j.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.autograd.nn.DecoderConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** Configs are read strictly: every mistake names the key, what it must be, and what was written. */
class ConfigStrictnessTest {
    private static Map<String, Object> good() {
        return new LinkedHashMap<>(MoeConfig.lory(DecoderConfig.tiny(), 4, 16).toMap());
    }

    private static String errorOf(String key, Object value) {
        Map<String, Object> m = good();
        m.put(key, value);
        try {
            MoeConfig.fromMap(m);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    @Test
    void aConfigWrittenByToMapReadsBackEqual() {
        MoeConfig c = MoeConfig.lory(DecoderConfig.tiny(), 4, 16);
        assertThat(MoeConfig.fromMap(Json.parseObject(Json.write(c.toMap()), "c"))).isEqualTo(c);
        Map<String, Object> hf = good(); // an exported config carries Hugging Face keys lory4j does not use
        hf.put("architectures", List.of("LoryForCausalLM"));
        hf.put("torch_dtype", "float32");
        hf.put("num_key_value_heads", 4);
        assertThat(MoeConfig.fromMap(hf)).isEqualTo(c);
    }

    @Test
    void eachKindOfMistakeNamesTheKeyAndTheValue() {
        assertThat(errorOf("hidden_size", 4294967328L)).contains("'hidden_size' must be an integer in [1, 2147483647]")
                .contains("4294967328");
        assertThat(errorOf("hidden_size", 32.9)).contains("'hidden_size' must be an integer").contains("32.9");
        assertThat(errorOf("hidden_size", -32)).contains("'hidden_size'").contains("-32");
        assertThat(errorOf("tie_word_embeddings", "yes")).contains("'tie_word_embeddings' must be true or false, "
                + "got \"yes\"");
        assertThat(errorOf("moe_layers", "all")).contains("'moe_layers' must be a list of integers");
        assertThat(errorOf("moe_layers", List.of(0, 9))).contains("'moe_layers'").contains("[0, 9]");
        assertThat(errorOf("rope_theta", 0)).contains("'rope_theta' must be a number in (0.0");
        assertThat(errorOf("rms_norm_eps", -1)).contains("'rms_norm_eps' must be a number in (0.0");
        assertThat(errorOf("initializer_range", "wide")).contains("'initializer_range' must be a number");
        assertThat(errorOf("router_init_std", -0.5)).contains("'router_init_std'").contains("-0.5");
        assertThat(errorOf("routing_mode", "sideways")).contains("'routing_mode' must be one of").contains("sideways");
        assertThat(errorOf("moe_kind", 3)).contains("'moe_kind' must be a string");
        assertThat(errorOf("num_key_value_heads", 2)).contains("'num_key_value_heads'");
        assertThat(errorOf("segment_lenght", 64)).contains("unknown key 'segment_lenght'")
                .contains("did you mean 'segment_length'?");
        assertThat(errorOf("hidden_size", 32.0)).isNull(); // an exact integer written as a decimal is fine
        Map<String, Object> missing = good();
        missing.remove("vocab_size");
        assertThatThrownBy(() -> MoeConfig.fromMap(missing)).hasMessageContaining("'vocab_size' is missing");
    }

    @Provide
    Arbitrary<Map<String, Object>> mutated() {
        Arbitrary<String> keys = Arbitraries.of(List.copyOf(good().keySet())).injectDuplicates(0.1)
                .map(k -> k).edgeCases(c -> c.add("unknown_key"));
        Arbitrary<Object> values = Arbitraries.oneOf(Arbitraries.integers().between(-5, 300).map(i -> (Object) (long) i),
                Arbitraries.doubles().between(-2, 70000).map(d -> (Object) d), Arbitraries.of(true, false)
                        .map(b -> (Object) b), Arbitraries.strings().alpha().ofMaxLength(8).map(s -> (Object) s),
                Arbitraries.just(List.of(0L, 1L)), Arbitraries.just((Object) "prefix"),
                Arbitraries.just((Object) 1e300), Arbitraries.just((Object) Double.NaN));
        return Arbitraries.maps(keys.withoutEdgeCases().injectNull(0).map(k -> k), values).ofMaxSize(3)
                .map(changes -> {
                    Map<String, Object> m = good();
                    m.putAll(changes);
                    return m;
                });
    }

    @Property(tries = 300)
    void aRandomConfigLoadsOrFailsNamingAKey(@ForAll("mutated") Map<String, Object> config) {
        try {
            MoeConfig c = MoeConfig.fromMap(config);
            assertThat(MoeConfig.fromMap(c.toMap())).isEqualTo(c); // what loads round-trips
        } catch (IllegalArgumentException e) {
            assertThat(e.getMessage()).as(e.getMessage()).matches(m -> config.keySet().stream()
                    .anyMatch(k -> m.contains("'" + k + "'") || m.contains(k + " ") || m.contains(k + "=")));
        }
    }
}
