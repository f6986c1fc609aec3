package dev.lory4j.autograd.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private static Tensor random(Random rnd, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian() * 10;
        }
        return Tensor.wrap(v, shape);
    }

    @Test
    void tensorsOfOddShapesScalarsAndEmptyOnesRoundTripExactly() throws Exception {
        Random rnd = new Random(42);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("layers.0.attn.q.weight", random(rnd, 7, 13));
        tensors.put("bias", random(rnd, 13));
        tensors.put("cube", random(rnd, 3, 1, 5, 2));
        tensors.put("scalar", Tensor.scalar(-1.25f));
        tensors.put("empty", Tensor.zeros(4, 0, 3));
        tensors.put("specials", Tensor.fromArray(new float[] {Float.NaN, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, -0f, Float.MIN_VALUE, Float.MAX_VALUE}, 6));
        tensors.put("transposed", random(rnd, 4, 6).transpose(0, 1)); // a non-contiguous view
        tensors.put("ünïcødé.名前", random(rnd, 2));
        Path file = dir.resolve("model.safetensors");

        Safetensors.write(file, tensors, Map.of());
        SafetensorsFile read = Safetensors.read(file);

        assertThat(read.tensors().keySet()).containsExactlyInAnyOrderElementsOf(tensors.keySet());
        for (var e : tensors.entrySet()) {
            Tensor got = read.require(e.getKey());
            assertThat(got.shape()).as(e.getKey()).containsExactly(e.getValue().shape());
            assertThat(floatBits(got.toArray())).as(e.getKey()).containsExactly(floatBits(e.getValue().toArray()));
        }
        assertThat(read.metadata()).isEmpty();
        assertThat(read.source()).isEqualTo(file.toString());
    }

    @Test
    void metadataAndI64RoundTrip() throws Exception {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("step", Tensor.scalar(123456));
        tensors.put("token_ids", Tensor.fromArray(new float[] {0, -1, 16777216, -16777216, 42}, 5));
        tensors.put("w", Tensor.fromArray(new float[] {0.5f, 1.5f}, 2));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("config", "{\"dim\": 64, \"quote\": \"\\\"\"}");
        metadata.put("empty", "");
        metadata.put("unicode", "héllo → 世界 \uD83D\uDE00");
        Path file = dir.resolve("ckpt.safetensors");

        Safetensors.write(file, tensors, Set.of("step", "token_ids"), metadata);
        SafetensorsFile read = Safetensors.read(file);

        assertThat(read.metadata()).containsExactlyEntriesOf(metadata);
        assertThat(read.require("step").item()).isEqualTo(123456f);
        assertThat(read.require("token_ids").toArray()).containsExactly(0, -1, 16777216, -16777216, 42);
        assertThat(read.require("w").toArray()).containsExactly(0.5f, 1.5f);
        String header = header(Files.readAllBytes(file));
        assertThat(header).contains("\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}");
        assertThat(header).contains("\"token_ids\":{\"dtype\":\"I64\",\"shape\":[5],\"data_offsets\":[8,48]}");
        assertThat(header).contains("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[48,56]}");
    }

    @Test
    void layoutIsTheReferenceWritersLayout() throws Exception {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("zeta", Tensor.fromArray(new float[] {1, 2}, 2));
        tensors.put("alpha", Tensor.fromArray(new float[] {3}, 1));
        tensors.put("Beta", Tensor.fromArray(new float[] {4}, 1));
        tensors.put("count", Tensor.fromArray(new float[] {5}, 1));
        byte[] bytes = Safetensors.toBytes(tensors, Set.of("count"), Map.of("k", "v"));

        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n % 8).isZero();
        String header = header(bytes);
        // __metadata__ first; I64 before F32; within a dtype by name (byte order, so "Beta" < "alpha"); no gaps.
        assertThat(header.stripTrailing()).isEqualTo("{\"__metadata__\":{\"k\":\"v\"},"
                + "\"count\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"Beta\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"alpha\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                + "\"zeta\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}");
        assertThat(bytes.length).isEqualTo(8 + n + 24);
        // The reader keeps the header's order.
        assertThat(Safetensors.read(bytes, "x").tensors().keySet()).containsExactly("count", "Beta", "alpha", "zeta");
    }

    @Test
    void anEmptyTensorMapIsAValidFile() throws Exception {
        byte[] bytes = Safetensors.toBytes(Map.of(), Set.of(), Map.of());
        assertThat(bytes).containsExactly(8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' ');
        SafetensorsFile f = Safetensors.read(bytes, "empty");
        assertThat(f.tensors()).isEmpty();
        assertThat(f.metadata()).isEmpty();
    }

    @Test
    void writeRejectsBadInputsNamingTheTensor() {
        Path file = dir.resolve("bad.safetensors");
        Tensor t = Tensor.fromArray(new float[] {1, 2.5f}, 2);
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("", t), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor names must be non-empty");
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("__metadata__", t), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"__metadata__\" is reserved");
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("ids", t), Set.of("ids"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'ids' is to be written as I64 but element 1 is 2.5, not an integer");
        Tensor nan = Tensor.fromArray(new float[] {Float.NaN}, 1);
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("n", nan), Set.of("n"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'n'")
                .hasMessageContaining("NaN");
        Tensor huge = Tensor.fromArray(new float[] {1e30f}, 1);
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("h", huge), Set.of("h"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'h'")
                .hasMessageContaining("64 bits");
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("a", t), Set.of("b"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("writeAsI64 names 'b', which is not among the tensors");
        Map<String, Tensor> withNull = new LinkedHashMap<>();
        withNull.put("w", null);
        assertThatThrownBy(() -> Safetensors.write(file, withNull, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'w' is null");
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("bad\uD800", t), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
        Map<String, String> nullValue = new LinkedHashMap<>();
        nullValue.put("k", null);
        assertThatThrownBy(() -> Safetensors.write(file, Map.of("a", t), nullValue))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("metadata key 'k'");
        assertThat(file).doesNotExist();
        assertThat(dir.toFile().list()).isEmpty();
    }

    @Test
    void requireNamesTheMissingTensorAndTheFile() throws Exception {
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, Map.of("present", Tensor.scalar(1)), Map.of());
        SafetensorsFile f = Safetensors.read(file);
        assertThatThrownBy(() -> f.require("absent"))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage(file + ": no tensor named 'absent' (the file has 1 tensors, e.g. 'present')");
        assertThat(f.tensors()).isUnmodifiable();
    }

    @Test
    void aLargeTensorGoesThroughInChunks() throws Exception {
        Random rnd = new Random(7);
        Tensor big = random(rnd, 300_001); // several write and conversion chunks, odd length
        Path file = dir.resolve("big.safetensors");
        Safetensors.write(file, Map.of("big", big, "ids", Tensor.arange(200_003)), Set.of("ids"), Map.of());
        SafetensorsFile f = Safetensors.read(file);
        // isEqualTo (Arrays.equals) rather than containsExactly, which is slow on 10^5 elements
        assertThat(floatBits(f.require("big").toArray())).isEqualTo(floatBits(big.toArray()));
        assertThat(f.require("ids").toArray()).isEqualTo(Tensor.arange(200_003).toArray());
    }

    private static String header(byte[] file) {
        int n = (int) ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(file, 8, n, StandardCharsets.UTF_8);
    }

    private static int[] floatBits(float[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Float.floatToRawIntBits(v[i]);
        }
        return out;
    }
}
