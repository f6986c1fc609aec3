package dev.lory4j.autograd.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds safetensors images byte by byte in tests: a header written by hand and raw little-endian data. */
final class Images {
    private Images() {}

    /** 8-byte length, the header padded with spaces to a multiple of 8, then the data. */
    static byte[] image(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8;
        byte[] padded = new byte[h.length + pad];
        System.arraycopy(h, 0, padded, 0, h.length);
        for (int i = h.length; i < padded.length; i++) {
            padded[i] = ' ';
        }
        return raw(padded.length, padded, data);
    }

    /** A declared header length followed by exactly the given header bytes and data (no padding added). */
    static byte[] raw(long declaredHeaderLength, byte[] header, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(declaredHeaderLength).array());
        out.writeBytes(header);
        out.writeBytes(data);
        return out.toByteArray();
    }

    /** Little-endian float32 values. */
    static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    /** Little-endian 16-bit patterns (for F16, BF16, I16, U16). */
    static byte[] u16(int... bits) {
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : bits) {
            b.putShort((short) v);
        }
        return b.array();
    }

    /** Little-endian 32-bit integers. */
    static byte[] i32(int... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    /** Little-endian 64-bit integers. */
    static byte[] i64(long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return b.array();
    }

    /** Little-endian float64 values. */
    static byte[] f64(double... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.array();
    }

    /** Concatenation. */
    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** One header entry as JSON text (without braces around the whole header). */
    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }
}
