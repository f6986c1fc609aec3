package dev.lory4j.autograd.io;

import static dev.lory4j.autograd.io.Images.entry;
import static dev.lory4j.autograd.io.Images.f32;
import static dev.lory4j.autograd.io.Images.i32;
import static dev.lory4j.autograd.io.Images.i64;
import static dev.lory4j.autograd.io.Images.image;
import static dev.lory4j.autograd.io.Images.raw;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a safetensors input can be wrong gets a SafetensorsException naming the source and the problem. */
class SafetensorsValidationTest {
    private static final String SRC = "t.safetensors";

    private static AbstractThrowableAssert<?, ? extends Throwable> rejects(byte[] bytes) {
        return assertThatThrownBy(() -> Safetensors.read(bytes, SRC))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith(SRC + ": ");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> rejectsHeader(String header, byte[] data) {
        return rejects(image(header, data));
    }

    // ---------------------------------------------------------------- framing

    @Test
    void inputShorterThanTheLengthField() {
        rejects(new byte[] {1, 2, 3})
                .hasMessageContaining("the input is 3 bytes, shorter than the 8-byte header length");
        rejects(new byte[0]).hasMessageContaining("the input is 0 bytes");
        assertThatThrownBy(() -> Safetensors.read(null, SRC)).isInstanceOf(SafetensorsException.class)
                .hasMessage(SRC + ": no bytes (null)");
    }

    @Test
    void fileShorterThanTheLengthFieldNamesTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tiny.safetensors");
        Files.write(file, new byte[] {8, 0, 0});
        assertThatThrownBy(() -> Safetensors.read(file)).isInstanceOf(SafetensorsException.class)
                .hasMessage(file + ": the input is 3 bytes, shorter than the 8-byte header length that starts "
                        + "every safetensors file");
    }

    @Test
    void headerLengthBeyondTheInput() {
        rejects(raw(100, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]))
                .hasMessageContaining("header length 100 bytes runs past the end of the input (10 bytes, so at most "
                        + "2 header bytes)");
    }

    @Test
    void absurdHeaderLength() {
        rejects(raw(200_000_000L, new byte[8], new byte[0]))
                .hasMessageContaining("header length 200000000 bytes is absurd (the limit is 100000000 bytes)");
        rejects(raw(-1L, new byte[8], new byte[0])).hasMessageContaining("header length 18446744073709551615 bytes "
                + "is absurd");
    }

    @Test
    void headerNotUtf8() {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        rejects(raw(8, header, new byte[0])).hasMessageContaining("header is not valid UTF-8");
    }

    @Test
    void headerNotJsonOrNotAnObject() {
        rejectsHeader("{\"a\":", new byte[0]).hasMessageContaining("header is not valid JSON");
        rejectsHeader("{'a':1}", new byte[0]).hasMessageContaining("header is not valid JSON");
        rejectsHeader("{} {}", new byte[0]).hasMessageContaining("header has more JSON after its object");
        rejectsHeader("{}x", new byte[0]).hasMessageContaining("header is not valid JSON");
        rejectsHeader("[1,2]", new byte[0]).hasMessageContaining("header is not a JSON object (it holds an array)");
        rejects(raw(0, new byte[0], new byte[0])).hasMessageContaining("header is not a JSON object (it holds nothing)");
        rejects(raw(8, "\0\0\0\0\0\0\0\0".getBytes(StandardCharsets.UTF_8), new byte[0]))
                .hasMessageContaining("header is not valid JSON");
        String deep = "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":" + "[".repeat(100)
                + "]".repeat(100) + "}}";
        rejectsHeader(deep, f32(1)).hasMessageContaining("header is not valid JSON").hasMessageContaining("depth");
    }

    // ---------------------------------------------------------------- entries

    @Test
    void entryNotAnObject() {
        rejectsHeader("{\"a\":5}", new byte[0])
                .hasMessageContaining("tensor 'a': entry must be an object with dtype, shape and data_offsets, "
                        + "found a number");
    }

    @Test
    void entryMissingAField() {
        rejectsHeader("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': entry has no \"dtype\"");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': entry has no \"shape\"");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", f32(1))
                .hasMessageContaining("tensor 'a': entry has no \"data_offsets\"");
    }

    @Test
    void entryFieldsOfTheWrongJsonType() {
        rejectsHeader("{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': \"dtype\" must be a string, found a number");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': \"shape\" must be an array of non-negative integers, found a string");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': \"shape\" must hold non-negative integers, found a number 1.5");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': \"shape\" must hold non-negative integers, found null");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"begin\":0}}}", f32(1))
                .hasMessageContaining("tensor 'a': \"data_offsets\" must be an array of non-negative integers, "
                        + "found an object");
        rejectsHeader("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1))
                .hasMessageContaining("tensor 'a': \"dtype\" given twice");
    }

    @Test
    void unknownAndUnsupportedDtypesAreNamed() {
        rejectsHeader("{" + entry("a", "F128", "[1]", 0, 16) + "}", new byte[16])
                .hasMessageContaining("tensor 'a': unknown dtype 'F128' (readable: F32, F16, BF16");
        rejectsHeader("{" + entry("a", "F8_E4M3", "[1]", 0, 1) + "}", new byte[1])
                .hasMessageContaining("tensor 'a': dtype F8_E4M3 is not supported (readable: F32, F16, BF16");
    }

    @Test
    void negativeOrOverflowingShapes() {
        rejectsHeader("{" + entry("a", "F32", "[-1]", 0, 4) + "}", f32(1))
                .hasMessageContaining("tensor 'a': \"shape\" holds -1, a negative number");
        rejectsHeader("{" + entry("a", "F32", "[99999999999999999999]", 0, 4) + "}", f32(1))
                .hasMessageContaining("tensor 'a': \"shape\" holds 99999999999999999999, a number too large for 64 bits");
        rejectsHeader("{" + entry("a", "F32", "[3000000000]", 0, 4) + "}", f32(1))
                .hasMessageContaining("tensor 'a': shape [3000000000] has dimension 3000000000, above 2^31-1");
        rejectsHeader("{" + entry("a", "F32", "[65536,65536]", 0, 4) + "}", f32(1))
                .hasMessageContaining("tensor 'a': shape [65536,65536] has more than 2147483639 elements");
        rejectsHeader("{" + entry("a", "F32", "[2147483647,2147483647,2147483647,2]", 0, 4) + "}", f32(1))
                .hasMessageContaining("has more than 2147483639 elements");
    }

    @Test
    void malformedDataOffsets() {
        rejectsHeader("{" + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}" + "}", f32(1))
                .hasMessageContaining("tensor 'a': \"data_offsets\" must be [begin, end], found 1 numbers");
        rejectsHeader("{" + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}" + "}", f32(1))
                .hasMessageContaining("found 3 numbers");
        rejectsHeader("{" + entry("a", "F32", "[0]", 8, 4) + "}", new byte[0])
                .hasMessageContaining("tensor 'a': data_offsets [8,4] end before they begin");
        rejectsHeader("{" + entry("a", "F32", "[1]", -4, 0) + "}", f32(1))
                .hasMessageContaining("tensor 'a': \"data_offsets\" holds -4, a negative number");
    }

    @Test
    void byteCountDisagreesWithShapeAndDtype() {
        rejectsHeader("{" + entry("w", "F32", "[2,3]", 0, 20) + "}", new byte[20])
                .hasMessageContaining("tensor 'w': shape [2,3] with dtype F32 needs 24 bytes but data_offsets [0,20] "
                        + "span 20");
        rejectsHeader("{" + entry("h", "F16", "[]", 0, 4) + "}", new byte[4])
                .hasMessageContaining("tensor 'h': shape [] with dtype F16 needs 2 bytes but data_offsets [0,4] span 4");
    }

    @Test
    void offsetsThatOverlapLeaveGapsOrDoNotCoverTheData() {
        rejectsHeader("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 4, 8) + "}", f32(1, 2))
                .hasMessageContaining("tensors 'a' (bytes [0,8]) and 'b' (bytes [4,8]) overlap");
        rejectsHeader("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}",
                f32(1, 2, 3))
                .hasMessageContaining("gap in the data section: bytes [4,8] before tensor 'b' belong to no tensor");
        rejectsHeader("{" + entry("b", "F32", "[1]", 4, 8) + "}", f32(1, 2))
                .hasMessageContaining("gap in the data section: bytes [0,4] before tensor 'b'");
        rejectsHeader("{" + entry("a", "F32", "[1]", 0, 4) + "}", f32(1, 2))
                .hasMessageContaining("the data section has 4 trailing bytes after the last tensor (tensors cover 4 of "
                        + "8 bytes)");
        rejectsHeader("{}", f32(1)).hasMessageContaining("the data section has 4 trailing bytes");
        rejectsHeader("{" + entry("a", "F32", "[2]", 0, 8) + "}", f32(1))
                .hasMessageContaining("tensor 'a': data_offsets [0,8] run past the end of the data section (4 bytes)");
    }

    @Test
    void emptyTensorsMayShareAnOffset() throws Exception {
        SafetensorsFile f = Safetensors.read(image("{" + entry("a", "F32", "[0]", 4, 4) + ","
                + entry("b", "F32", "[1]", 0, 4) + "," + entry("c", "I64", "[0,5]", 4, 4) + "}", f32(9)), SRC);
        assertThat(f.tensors().keySet()).containsExactly("a", "b", "c");
        assertThat(f.require("b").toArray()).containsExactly(9f);
        assertThat(f.require("c").shape()).containsExactly(0, 5);
    }

    @Test
    void metadataMustMapStringsToStrings() {
        rejectsHeader("{\"__metadata__\":[1]}", new byte[0])
                .hasMessageContaining("\"__metadata__\" must be an object of string to string, found an array");
        rejectsHeader("{\"__metadata__\":{\"k\":1}}", new byte[0])
                .hasMessageContaining("\"__metadata__\" must map strings to strings, but key 'k' holds a number");
        rejectsHeader("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", new byte[0])
                .hasMessageContaining("key 'k' holds an object");
        rejectsHeader("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", new byte[0])
                .hasMessageContaining("\"__metadata__\" has key 'k' twice");
        rejectsHeader("{\"__metadata__\":{},\"__metadata__\":{}}", new byte[0])
                .hasMessageContaining("header has \"__metadata__\" twice");
    }

    @Test
    void nullMetadataMeansNone() throws Exception {
        assertThat(Safetensors.read(image("{\"__metadata__\":null}", new byte[0]), SRC).metadata()).isEmpty();
    }

    @Test
    void duplicateTensorNames() {
        rejectsHeader("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", f32(1, 2))
                .hasMessageContaining("duplicate tensor name 'a' in the header");
    }

    @Test
    void integersBeyond2To24AreRefused() {
        rejectsHeader("{" + entry("step", "I64", "[2]", 0, 16) + "}", i64(3, (1L << 24) + 1))
                .hasMessageContaining("tensor 'step': I64 element 1 is 16777217, beyond 2^24 = 16777216 in magnitude, "
                        + "so float32 cannot hold it exactly");
        rejectsHeader("{" + entry("ids", "I32", "[1]", 0, 4) + "}", i32(Integer.MIN_VALUE))
                .hasMessageContaining("tensor 'ids': I32 element 0 is -2147483648, beyond 2^24");
        rejectsHeader("{" + entry("u", "U64", "[1]", 0, 8) + "}", i64(-1))
                .hasMessageContaining("tensor 'u': U64 element 0 is 18446744073709551615, beyond 2^24");
        rejectsHeader("{" + entry("u", "U32", "[1]", 0, 4) + "}", i32(-1))
                .hasMessageContaining("tensor 'u': U32 element 0 is 4294967295, beyond 2^24");
    }

    @Test
    void oddNamesAreQuotedReadably() {
        String longName = "n".repeat(500);
        rejectsHeader("{\"" + longName + "\":5}", new byte[0]).hasMessageContaining("'" + "n".repeat(120)
                + "...(500 chars)'");
        rejectsHeader("{\"a\\nb\":5}", new byte[0]).hasMessageContaining("tensor 'a\\u000ab'");
    }
}
