package dev.lory4j.data.tokenizer;

/**
 * Generalised UTF-8 ("WTF-8") for Java strings: code points are encoded as in UTF-8, and a surrogate that
 * is not part of a valid pair is encoded as the three bytes UTF-8 would use for its code unit
 * ({@code ED A0 80}..{@code ED BF BF}). So every Java string, including ones with unpaired surrogates,
 * becomes bytes and comes back unchanged, while valid text is byte-for-byte standard UTF-8.
 *
 * <p>Decoding accepts any bytes: sequences that are not generalised UTF-8 (stray continuation bytes,
 * overlong forms, truncated sequences, values above U+10FFFF) become one U+FFFD per offending byte.
 */
public final class Wtf8 {
    private Wtf8() {
    }

    /** The number of bytes {@link #encode} produces for {@code s}. */
    public static int encodedLength(CharSequence s) {
        int n = 0;
        for (int i = 0, len = s.length(); i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** Encodes {@code s}; lone surrogates are kept (see the class comment). */
    public static byte[] encode(CharSequence s) {
        byte[] out = new byte[encodedLength(s)];
        encodeInto(s, 0, s.length(), out, 0);
        return out;
    }

    /** Encodes {@code s[from, to)} into {@code out} at {@code pos}; returns the position after the last byte. */
    public static int encodeInto(CharSequence s, int from, int to, byte[] out, int pos) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                out[pos++] = (byte) c;
            } else if (c < 0x800) {
                out[pos++] = (byte) (0xC0 | (c >> 6));
                out[pos++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, s.charAt(++i));
                out[pos++] = (byte) (0xF0 | (cp >> 18));
                out[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                out[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                out[pos++] = (byte) (0x80 | (cp & 0x3F));
            } else {
                out[pos++] = (byte) (0xE0 | (c >> 12));
                out[pos++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                out[pos++] = (byte) (0x80 | (c & 0x3F));
            }
        }
        return pos;
    }

    /** Decodes all of {@code bytes}. */
    public static String decode(byte[] bytes) {
        return decode(bytes, 0, bytes.length);
    }

    /** Decodes {@code bytes[off, off + len)}; invalid bytes become U+FFFD (see the class comment). */
    public static String decode(byte[] bytes, int off, int len) {
        StringBuilder sb = new StringBuilder(len);
        int i = off;
        int end = off + len;
        while (i < end) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                sb.append((char) b0);
                i++;
                continue;
            }
            int need;
            int min;
            int cp;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
                min = 0x80;
                cp = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                min = 0x800;
                cp = b0 & 0x0F;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                min = 0x10000;
                cp = b0 & 0x07;
            } else {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            boolean ok = i + need < end; // continuation bytes at i+1 .. i+need
            if (ok) {
                for (int k = 1; k <= need; k++) {
                    int b = bytes[i + k] & 0xFF;
                    if ((b & 0xC0) != 0x80) {
                        ok = false;
                        break;
                    }
                    cp = (cp << 6) | (b & 0x3F);
                }
            }
            if (!ok || cp < min || cp > 0x10FFFF) {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            sb.appendCodePoint(cp); // a surrogate code point (from ED A0..BF) appends that single char
            i += need + 1;
        }
        return sb.toString();
    }
}
