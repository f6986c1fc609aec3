package dev.lory4j.autograd.io;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types a safetensors header may name. Those with a {@code size} of 0 are known names (so the error
 * can say "not supported" rather than "unknown") whose conversion to float32 we do not implement.
 */
enum Dtype {
    F32(4), F16(2), BF16(2), F64(8),
    I64(8), I32(4), I16(2), I8(1),
    U64(8), U32(4), U16(2), U8(1),
    BOOL(1),
    // Known to the safetensors format, not readable here (8-bit/sub-byte floats, complex).
    F8_E5M2(0), F8_E4M3(0), F8_E8M0(0), F6_E2M3(0), F6_E3M2(0), F4(0), C64(0);

    /** Bytes per element; 0 for dtypes we do not read. */
    final int size;

    Dtype(int size) {
        this.size = size;
    }

    boolean supported() {
        return size > 0;
    }

    boolean integral() {
        return this != F32 && this != F16 && this != BF16 && this != F64;
    }

    /** The dtype called {@code name} (case-sensitive, as the format spells it), or null. */
    static Dtype byName(String name) {
        for (Dtype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** The comma-separated names of the readable dtypes, for error messages. */
    static String supportedNames() {
        return Arrays.stream(values()).filter(Dtype::supported).map(Dtype::name).collect(Collectors.joining(", "));
    }
}
