package dev.lory4j.data.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Text to token ids and back.
 *
 * <p>Contract for every implementation here: {@code decode(encode(s)).equals(s)} for every Java string
 * {@code s}, including the empty string and strings with unpaired surrogates (text is turned into bytes
 * with {@link Wtf8}). {@link #encode} never produces a special token; the special tokens (the
 * {@link #END_OF_TEXT document boundary} and {@link #PAD padding}) are inserted by packing code, and
 * {@link #decode} writes them as their names.
 *
 * <p>Id layout shared by the byte-level and BPE tokenizers of this package: ids 0..255 are the 256 byte
 * values, 256 is the document boundary {@code <|endoftext|>}, 257 is {@code <|pad|>}, and BPE merges follow
 * from 258. A tokenizer loaded from another {@code tokenizer.json} may lay its ids out differently; always
 * ask {@link #documentBoundaryId()} rather than assuming 256.
 */
public interface Tokenizer {
    /** The document-boundary token (GPT-2's name for it), placed between packed documents. */
    String END_OF_TEXT = "<|endoftext|>";
    /** The padding token, used only when a caller asks for padded sequences. */
    String PAD = "<|pad|>";

    /** The token ids of {@code text} (never special tokens). */
    int[] encode(String text);

    /** The text of {@code ids[from, to)}; special tokens are written as their names. */
    String decode(int[] ids, int from, int to);

    /** The text of all {@code ids}. */
    default String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /** The number of ids (largest id + 1). */
    int vocabSize();

    /** The id of {@link #END_OF_TEXT}. */
    int documentBoundaryId();

    /** The id of {@link #PAD}. */
    int padId();

    /** The special tokens, in id order. */
    List<String> specialTokens();

    /** The id of a special token name, or -1. */
    int specialId(String name);

    /** A short description, e.g. {@code byte-level (258)} or {@code bpe (4096)}. */
    String describe();

    /** Writes this tokenizer as a Hugging Face {@code tokenizer.json} (BPE model, byte-level). */
    void save(Path file) throws IOException;

    /** Reads a {@code tokenizer.json} written by {@link #save} (or a compatible byte-level BPE file). */
    static Tokenizer load(Path file) throws IOException {
        return TokenizerJson.read(file);
    }
}
