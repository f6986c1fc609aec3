package dev.lory4j.data.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import dev.lory4j.data.internal.IntList;
import dev.lory4j.data.internal.LongIntMap;

/**
 * Byte-level BPE: text is {@link PreTokenizer split} into chunks, each chunk becomes its {@link Wtf8} bytes,
 * one token per byte ("byte fallback": every string is encodable, nothing maps to an unknown token), and the
 * learned merges are applied inside each chunk, lowest merge rank first, as GPT-2 and Hugging Face do.
 *
 * <p>A merge {@code (left, right) -> result} has the rank of its position in the merge list. Ids are
 * arbitrary in general (a loaded {@code tokenizer.json} decides them); the trainer of this package lays them
 * out as bytes 0..255, specials from 256, merges after the specials. Thread-safe; encoded chunks are cached.
 */
public final class BpeTokenizer implements Tokenizer {
    private static final int CACHE_LIMIT = 200_000;

    private final int[] byteToId;
    private final byte[][] idToBytes; // null for special ids
    private final String[] specialName; // null for non-special ids
    private final List<String> specials;
    private final Map<String, Integer> specialIds;
    private final int[] mergeLeft;
    private final int[] mergeRight;
    private final int[] mergeResult;
    private final LongIntMap rank = new LongIntMap();
    private final int boundaryId;
    private final int padId;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * A tokenizer from its tables.
     *
     * @param byteToId    the id of each byte value (256 entries)
     * @param idToBytes   the bytes of each id, null for special ids; its length is the vocabulary size
     * @param specialName the name of each special id, null elsewhere (same length as idToBytes)
     * @param mergeLeft   left id of each merge, in rank order
     * @param mergeRight  right id of each merge
     * @param mergeResult resulting id of each merge
     */
    public BpeTokenizer(int[] byteToId, byte[][] idToBytes, String[] specialName,
                        int[] mergeLeft, int[] mergeRight, int[] mergeResult) {
        if (byteToId.length != 256) {
            throw new IllegalArgumentException("BpeTokenizer: byteToId has " + byteToId.length + " entries, expected 256");
        }
        if (specialName.length != idToBytes.length) {
            throw new IllegalArgumentException("BpeTokenizer: specialName has " + specialName.length
                    + " entries but the vocabulary has " + idToBytes.length);
        }
        if (mergeLeft.length != mergeRight.length || mergeLeft.length != mergeResult.length) {
            throw new IllegalArgumentException("BpeTokenizer: merge arrays differ in length: " + mergeLeft.length
                    + ", " + mergeRight.length + ", " + mergeResult.length);
        }
        int v = idToBytes.length;
        for (int b = 0; b < 256; b++) {
            int id = byteToId[b];
            if (id < 0 || id >= v || idToBytes[id] == null || idToBytes[id].length != 1 || (idToBytes[id][0] & 0xFF) != b) {
                throw new IllegalArgumentException("BpeTokenizer: byte " + b + " maps to id " + id
                        + ", which is not that single byte in a vocabulary of " + v);
            }
        }
        for (int r = 0; r < mergeLeft.length; r++) {
            int l = mergeLeft[r];
            int rt = mergeRight[r];
            int res = mergeResult[r];
            if (l < 0 || l >= v || rt < 0 || rt >= v || res < 0 || res >= v
                    || idToBytes[l] == null || idToBytes[rt] == null || idToBytes[res] == null) {
                throw new IllegalArgumentException("BpeTokenizer: merge " + r + " (" + l + ", " + rt + ") -> " + res
                        + " uses an id outside the vocabulary of " + v + " or a special id");
            }
            if (idToBytes[res].length != idToBytes[l].length + idToBytes[rt].length) {
                throw new IllegalArgumentException("BpeTokenizer: merge " + r + " result " + res
                        + " is not the concatenation of " + l + " and " + rt);
            }
            rank.getIfAbsentPut(pair(l, rt), r);
        }
        this.byteToId = byteToId.clone();
        this.idToBytes = idToBytes;
        this.specialName = specialName.clone();
        this.mergeLeft = mergeLeft.clone();
        this.mergeRight = mergeRight.clone();
        this.mergeResult = mergeResult.clone();
        List<String> sp = new ArrayList<>();
        Map<String, Integer> ids = new java.util.LinkedHashMap<>();
        for (int id = 0; id < v; id++) {
            if (specialName[id] != null) {
                if (idToBytes[id] != null) {
                    throw new IllegalArgumentException("BpeTokenizer: id " + id + " is both special and a byte string");
                }
                sp.add(specialName[id]);
                ids.put(specialName[id], id);
            } else if (idToBytes[id] == null) {
                throw new IllegalArgumentException("BpeTokenizer: id " + id + " has neither bytes nor a special name");
            }
        }
        this.specials = Collections.unmodifiableList(sp);
        this.specialIds = Collections.unmodifiableMap(ids);
        this.boundaryId = ids.getOrDefault(END_OF_TEXT, -1);
        this.padId = ids.getOrDefault(PAD, -1);
        if (boundaryId < 0) {
            throw new IllegalArgumentException("BpeTokenizer: the vocabulary has no " + END_OF_TEXT + " token");
        }
    }

    /** The byte-level vocabulary (bytes 0..255, {@code <|endoftext|>} = 256, {@code <|pad|>} = 257) and no merges. */
    public static BpeTokenizer byteLevel() {
        return withMerges(new int[0], new int[0]);
    }

    /**
     * The standard layout: bytes 0..255, {@code <|endoftext|>} 256, {@code <|pad|>} 257, and merge {@code r}
     * of {@code (left[r], right[r])} producing id {@code 258 + r}.
     */
    public static BpeTokenizer withMerges(int[] left, int[] right) {
        int n = left.length;
        int base = 256 + 2;
        byte[][] bytes = new byte[base + n][];
        String[] names = new String[base + n];
        int[] byteToId = new int[256];
        for (int b = 0; b < 256; b++) {
            bytes[b] = new byte[] {(byte) b};
            byteToId[b] = b;
        }
        names[256] = END_OF_TEXT;
        names[257] = PAD;
        int[] result = new int[n];
        for (int r = 0; r < n; r++) {
            if (left[r] >= base + r || right[r] >= base + r || bytes[left[r]] == null || bytes[right[r]] == null) {
                throw new IllegalArgumentException("BpeTokenizer.withMerges: merge " + r + " (" + left[r] + ", "
                        + right[r] + ") refers to an id that is special or not yet defined");
            }
            byte[] a = bytes[left[r]];
            byte[] c = bytes[right[r]];
            byte[] m = Arrays.copyOf(a, a.length + c.length);
            System.arraycopy(c, 0, m, a.length, c.length);
            bytes[base + r] = m;
            result[r] = base + r;
        }
        return new BpeTokenizer(byteToId, bytes, names, left, right, result);
    }

    static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    @Override
    public int[] encode(String text) {
        IntList out = new IntList(Math.max(16, text.length() / 3));
        PreTokenizer.split(text, chunk -> {
            int[] ids = cache.get(chunk);
            if (ids == null) {
                ids = encodeChunk(chunk);
                if (cache.size() > CACHE_LIMIT) {
                    cache.clear();
                }
                cache.put(chunk, ids);
            }
            out.addAll(ids);
        });
        return out.toArray();
    }

    /** Bytes to ids, then merges by rank until none applies. */
    int[] encodeChunk(String chunk) {
        byte[] b = Wtf8.encode(chunk);
        int[] sym = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            sym[i] = byteToId[b[i] & 0xFF];
        }
        int n = sym.length;
        while (n > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < n; i++) {
                int r = rank.getIfAbsent(pair(sym[i], sym[i + 1]), Integer.MAX_VALUE);
                if (r < best) {
                    best = r;
                }
            }
            if (best == Integer.MAX_VALUE) {
                break;
            }
            int l = mergeLeft[best];
            int rt = mergeRight[best];
            int res = mergeResult[best];
            int j = 0;
            for (int i = 0; i < n; ) {
                if (i + 1 < n && sym[i] == l && sym[i + 1] == rt) {
                    sym[j++] = res;
                    i += 2;
                } else {
                    sym[j++] = sym[i++];
                }
            }
            n = j;
        }
        return n == sym.length ? sym : Arrays.copyOf(sym, n);
    }

    @Override
    public String decode(int[] ids, int from, int to) {
        if (from < 0 || to > ids.length || from > to) {
            throw new IndexOutOfBoundsException("BpeTokenizer.decode: range [" + from + ", " + to + ") of " + ids.length);
        }
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[64];
        int n = 0;
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= idToBytes.length) {
                throw new IllegalArgumentException("BpeTokenizer.decode: id " + id + " at position " + i
                        + " is outside the vocabulary [0, " + idToBytes.length + ")");
            }
            byte[] t = idToBytes[id];
            if (t == null) {
                sb.append(Wtf8.decode(buf, 0, n)).append(specialName[id]);
                n = 0;
                continue;
            }
            if (n + t.length > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + t.length));
            }
            System.arraycopy(t, 0, buf, n, t.length);
            n += t.length;
        }
        return sb.append(Wtf8.decode(buf, 0, n)).toString();
    }

    @Override
    public int vocabSize() {
        return idToBytes.length;
    }

    @Override
    public int documentBoundaryId() {
        return boundaryId;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public List<String> specialTokens() {
        return specials;
    }

    @Override
    public int specialId(String name) {
        return specialIds.getOrDefault(name, -1);
    }

    /** The number of merges. */
    public int mergeCount() {
        return mergeLeft.length;
    }

    /** The bytes of a non-special id (a copy). */
    public byte[] tokenBytes(int id) {
        if (id < 0 || id >= idToBytes.length || idToBytes[id] == null) {
            throw new IllegalArgumentException("BpeTokenizer.tokenBytes: id " + id + " is special or outside [0, "
                    + idToBytes.length + ")");
        }
        return idToBytes[id].clone();
    }

    /** The special name of an id, or null. */
    public String specialName(int id) {
        return id >= 0 && id < specialName.length ? specialName[id] : null;
    }

    /** Merge {@code r} as {@code {left, right, result}}. */
    public int[] merge(int r) {
        return new int[] {mergeLeft[r], mergeRight[r], mergeResult[r]};
    }

    @Override
    public String describe() {
        return "bpe (" + vocabSize() + ", " + mergeCount() + " merges)";
    }

    @Override
    public void save(Path file) throws IOException {
        TokenizerJson.write(this, file);
    }
}
