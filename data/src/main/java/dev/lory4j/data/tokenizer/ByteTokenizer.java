package dev.lory4j.data.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Byte-level tokenizer, the default: a token per byte of the text's {@link Wtf8} encoding. Ids 0..255 are
 * byte values; 256 is {@code <|endoftext|>} and 257 is {@code <|pad|>}, so the vocabulary has 258 ids.
 * Saved as a BPE {@code tokenizer.json} with no merges (which is exactly this tokenizer).
 */
public final class ByteTokenizer implements Tokenizer {
    /** The id of the document boundary. */
    public static final int END_OF_TEXT_ID = 256;
    /** The id of the padding token. */
    public static final int PAD_ID = 257;
    private static final List<String> SPECIALS = List.of(END_OF_TEXT, PAD);

    /** The byte tokenizer (stateless). */
    public ByteTokenizer() {
    }

    @Override
    public int[] encode(String text) {
        byte[] b = Wtf8.encode(text);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids, int from, int to) {
        StringBuilder sb = new StringBuilder(to - from);
        byte[] run = new byte[Math.max(0, to - from)];
        int n = 0;
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id >= 0 && id < 256) {
                run[n++] = (byte) id;
            } else if (id == END_OF_TEXT_ID || id == PAD_ID) {
                sb.append(Wtf8.decode(run, 0, n)).append(SPECIALS.get(id - 256));
                n = 0;
            } else {
                throw new IllegalArgumentException("ByteTokenizer.decode: id " + id + " at position " + i
                        + " is outside the vocabulary [0, " + vocabSize() + ")");
            }
        }
        return sb.append(Wtf8.decode(run, 0, n)).toString();
    }

    @Override
    public int vocabSize() {
        return 258;
    }

    @Override
    public int documentBoundaryId() {
        return END_OF_TEXT_ID;
    }

    @Override
    public int padId() {
        return PAD_ID;
    }

    @Override
    public List<String> specialTokens() {
        return SPECIALS;
    }

    @Override
    public int specialId(String name) {
        int i = SPECIALS.indexOf(name);
        return i < 0 ? -1 : 256 + i;
    }

    @Override
    public String describe() {
        return "byte-level (" + vocabSize() + ")";
    }

    @Override
    public void save(Path file) throws IOException {
        BpeTokenizer.byteLevel().save(file);
    }
}
