package dev.lory4j.data.tokenizer;

import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the chunks that BPE merges never cross: GPT-2's pattern (contractions, an optional space
 * followed by letters, by digits or by other symbols, and whitespace runs), the same one Hugging Face's
 * {@code ByteLevel} pre-tokenizer uses with {@code use_regex = true}. "Whitespace" is Unicode White_Space,
 * as in that implementation. Every character of the input lands in exactly one chunk.
 */
public final class PreTokenizer {
    private static final String WS = "\\p{IsWhite_Space}";
    private static final Pattern GPT2 = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + WS + "\\p{L}\\p{N}]+|" + WS + "+(?![^" + WS + "])|" + WS + "+");

    private PreTokenizer() {
    }

    /** Calls {@code sink} with each chunk of {@code text}, in order; the chunks concatenate to {@code text}. */
    public static void split(String text, Consumer<String> sink) {
        Matcher m = GPT2.matcher(text);
        int expected = 0;
        while (m.find()) {
            if (m.start() != expected) { // cannot happen: the last two alternatives match any character
                throw new IllegalStateException("PreTokenizer: gap at " + expected + " in input of length " + text.length());
            }
            sink.accept(m.group());
            expected = m.end();
        }
        if (expected != text.length()) {
            throw new IllegalStateException("PreTokenizer: input of length " + text.length() + " ends unsplit at " + expected);
        }
    }
}
