package dev.lory4j.autograd.io;

import static dev.lory4j.autograd.io.Images.cat;
import static dev.lory4j.autograd.io.Images.entry;
import static dev.lory4j.autograd.io.Images.f32;
import static dev.lory4j.autograd.io.Images.f64;
import static dev.lory4j.autograd.io.Images.i32;
import static dev.lory4j.autograd.io.Images.i64;
import static dev.lory4j.autograd.io.Images.image;
import static dev.lory4j.autograd.io.Images.u16;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Files whose bytes we know: built here by hand, or written by PyTorch's safetensors (make_torch_golden.py). */
class SafetensorsGoldenTest {

    private static int bits(float f) {
        return Float.floatToRawIntBits(f);
    }

    private static int[] bitsOf(Tensor t) {
        float[] v = t.toArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = bits(v[i]);
        }
        return out;
    }

    @Test
    void halfAndBfloat16DecodeExactly() throws Exception {
        String header = "{" + entry("half", "F16", "[3,3]", 0, 18) + "," + entry("brain", "BF16", "[7]", 18, 32) + "}";
        byte[] data = cat(
                // 1.0, -2.5, 65504 (max), 2^-24 (smallest subnormal), 1023*2^-24 (largest subnormal), +inf, -inf, NaN, -0
                u16(0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x7E00, 0x8000),
                // 1.0, -2.5, max finite, smallest subnormal 2^-133, +inf, NaN, -0
                u16(0x3F80, 0xC020, 0x7F7F, 0x0001, 0x7F80, 0x7FC0, 0x8000));
        SafetensorsFile f = Safetensors.read(image(header, data), "golden");

        Tensor half = f.require("half");
        assertThat(half.shape()).containsExactly(3, 3);
        float[] h = half.toArray();
        assertThat(h[0]).isEqualTo(1.0f);
        assertThat(h[1]).isEqualTo(-2.5f);
        assertThat(h[2]).isEqualTo(65504f);
        assertThat(h[3]).isEqualTo(0x1p-24f);
        assertThat(h[4]).isEqualTo(1023 * 0x1p-24f);
        assertThat(h[5]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(h[6]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(h[7]).isNaN();
        assertThat(bits(h[8])).isEqualTo(bits(-0f));

        float[] b = f.require("brain").toArray();
        assertThat(b[0]).isEqualTo(1.0f);
        assertThat(b[1]).isEqualTo(-2.5f);
        assertThat(bits(b[2])).isEqualTo(0x7F7F0000);
        assertThat(b[2]).isEqualTo(3.3895314e38f);
        assertThat(bits(b[3])).isEqualTo(0x00010000);
        assertThat(b[3]).isEqualTo(0x1p-133f);
        assertThat(b[4]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(b[5]).isNaN();
        assertThat(bits(b[6])).isEqualTo(bits(-0f));
    }

    @Test
    void everyReadableDtypeDecodesExactly() throws Exception {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + entry("f32", "F32", "[2]", 0, 8) + ","
                + entry("f64", "F64", "[3]", 8, 32) + ","
                + entry("i64", "I64", "[4]", 32, 64) + ","
                + entry("u64", "U64", "[1]", 64, 72) + ","
                + entry("i32", "I32", "[3]", 72, 84) + ","
                + entry("u32", "U32", "[1]", 84, 88) + ","
                + entry("i16", "I16", "[2]", 88, 92) + ","
                + entry("u16", "U16", "[2]", 92, 96) + ","
                + entry("i8", "I8", "[2]", 96, 98) + ","
                + entry("u8", "U8", "[2]", 98, 100) + ","
                + entry("bool", "BOOL", "[3]", 100, 103) + "}";
        byte[] data = cat(f32(1.5f, Float.MIN_VALUE), f64(0.1, -3.5, 1e300), i64(0, -1, 1L << 24, -(1L << 24)),
                i64(16_777_216), i32(7, -7, 123_456), i32(4_000_000), u16(0x8000, 0x7FFF), u16(0xFFFF, 1),
                new byte[] {-128, 127}, new byte[] {(byte) 255, 0}, new byte[] {1, 0, 1});
        SafetensorsFile f = Safetensors.read(image(header, data), "dtypes");

        assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));
        assertThat(f.tensors().keySet()).containsExactly("f32", "f64", "i64", "u64", "i32", "u32", "i16", "u16", "i8",
                "u8", "bool");
        assertThat(f.require("f32").toArray()).containsExactly(1.5f, Float.MIN_VALUE);
        assertThat(f.require("f64").toArray()).containsExactly(0.1f, -3.5f, Float.POSITIVE_INFINITY);
        assertThat(f.require("i64").toArray()).containsExactly(0, -1, 16_777_216, -16_777_216);
        assertThat(f.require("u64").toArray()).containsExactly(16_777_216);
        assertThat(f.require("i32").toArray()).containsExactly(7, -7, 123_456);
        assertThat(f.require("u32").toArray()).containsExactly(4_000_000);
        assertThat(f.require("i16").toArray()).containsExactly(-32768, 32767);
        assertThat(f.require("u16").toArray()).containsExactly(65535, 1);
        assertThat(f.require("i8").toArray()).containsExactly(-128, 127);
        assertThat(f.require("u8").toArray()).containsExactly(255, 0);
        assertThat(f.require("bool").toArray()).containsExactly(1, 0, 1);
    }

    @Test
    void readsWhatPyTorchWrote() throws Exception {
        Path file = resource("torch_golden.safetensors");
        SafetensorsFile f = Safetensors.read(file);
        assertThat(f.metadata()).containsExactlyInAnyOrderEntriesOf(Map.of("format", "pt", "note", "golden"));

        List<String> expected = Files.readAllLines(resource("torch_golden_expected.txt")).stream()
                .filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
        assertThat(f.tensors()).hasSize(expected.size());
        for (String line : expected) {
            String[] parts = line.split(" ");
            Tensor t = f.require(parts[0]);
            assertThat(dev.lory4j.tensor.Shapes.str(t.shape())).as(parts[0]).isEqualTo(parts[1]);
            int[] want = new int[parts.length - 2];
            for (int i = 2; i < parts.length; i++) {
                want[i - 2] = Integer.parseUnsignedInt(parts[i], 16);
            }
            assertThat(bitsOf(t)).as(parts[0]).containsExactly(want);
        }
    }

    @Test
    void writesTheSameBytesAsTheReferenceWriter() throws Exception {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("b.weight", Tensor.fromArray(new float[] {1.5f, -2.0f, 0.25f, 1.0e-3f}, 2, 2));
        tensors.put("a", Tensor.fromArray(new float[] {3.0f}, 1));
        tensors.put("scalar", Tensor.scalar(-7.0f));
        tensors.put("step", Tensor.scalar(42));
        tensors.put("counts", Tensor.fromArray(new float[] {1, -2, 3}, 3));
        byte[] ours = Safetensors.toBytes(tensors, Set.of("step", "counts"), Map.of("format", "pt"));
        assertThat(ours).isEqualTo(Files.readAllBytes(resource("torch_writer_reference.safetensors")));
    }

    private Path resource(String name) throws Exception {
        var url = getClass().getResource(name);
        assertThat(url).as(name + " on the test class path").isNotNull();
        return Path.of(url.toURI());
    }
}
