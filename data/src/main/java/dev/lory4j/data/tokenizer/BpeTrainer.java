package dev.lory4j.data.tokenizer;

import dev.lory4j.tensor.kernels.Parallel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import dev.lory4j.data.internal.IntList;
import dev.lory4j.data.internal.LongLongMap;
import dev.lory4j.data.internal.LongObjectMap;
import dev.lory4j.data.internal.LongSet;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style): pre-tokenize the texts into chunks and count each
 * distinct chunk once with its frequency; then repeatedly merge the most frequent adjacent pair of ids
 * (ties: the pair with the smaller (left, right)), until the vocabulary is full or no pair occurs at least
 * {@code minFrequency} times.
 *
 * <p>Speed: pair counts live in a primitive hash map ({@code LongLongMap}) keyed by the pair, a
 * primitive max-heap with lazy deletion finds the best pair, and an index from pair to the chunks holding it
 * means a merge touches only those chunks (each is recounted: subtract its old pairs, merge, add its new
 * pairs; only pairs with the new id can be new to a chunk). Counting chunks runs on all cores.
 */
public final class BpeTrainer {
    private final int vocabSize;
    private final int minFrequency;

    /** The outcome: the tokenizer and what training did. */
    public record Result(BpeTokenizer tokenizer, long chunks, int distinctChunks, int merges,
                         double countSeconds, double mergeSeconds) {
    }

    /**
     * A trainer.
     *
     * @param vocabSize    the vocabulary size to reach, bytes and the two special tokens included (at least 258)
     * @param minFrequency a pair must occur at least this often to be merged (at least 1; 2 is usual)
     */
    public BpeTrainer(int vocabSize, int minFrequency) {
        if (vocabSize < 258) {
            throw new IllegalArgumentException("BpeTrainer: vocabSize " + vocabSize
                    + " is below 258 (256 bytes + <|endoftext|> + <|pad|>)");
        }
        if (minFrequency < 1) {
            throw new IllegalArgumentException("BpeTrainer: minFrequency " + minFrequency + " must be at least 1");
        }
        this.vocabSize = vocabSize;
        this.minFrequency = minFrequency;
    }

    /** A trainer with {@code minFrequency} 2. */
    public BpeTrainer(int vocabSize) {
        this(vocabSize, 2);
    }

    /** Trains on {@code texts}. */
    public Result train(List<String> texts) {
        long t0 = System.nanoTime();
        Map<String, long[]> counts = countChunks(texts);
        String[] keys = counts.keySet().toArray(new String[0]);
        Arrays.sort(keys); // deterministic chunk order
        long totalChunks = 0;
        int[][] words = new int[keys.length][];
        int[] lens = new int[keys.length];
        long[] weights = new long[keys.length];
        int nw = 0;
        for (String k : keys) {
            long c = counts.get(k)[0];
            totalChunks += c;
            byte[] b = Wtf8.encode(k);
            if (b.length < 2) {
                continue; // no pair inside
            }
            int[] w = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                w[i] = b[i] & 0xFF;
            }
            words[nw] = w;
            lens[nw] = w.length;
            weights[nw] = c;
            nw++;
        }
        long t1 = System.nanoTime();

        LongLongMap pairCount = new LongLongMap();
        LongObjectMap<IntList> where = new LongObjectMap<>();
        for (int w = 0; w < nw; w++) {
            int[] s = words[w];
            for (int i = 0; i + 1 < lens[w]; i++) {
                long p = BpeTokenizer.pair(s[i], s[i + 1]);
                pairCount.addToValue(p, weights[w]);
                IntList list = where.getIfAbsentPut(p, IntList::new);
                if (list.isEmpty() || list.getLast() != w) {
                    list.add(w);
                }
            }
        }
        PairHeap heap = new PairHeap(Math.max(16, pairCount.size() * 2));
        pairCount.forEachKeyValue(heap::push);

        int maxMerges = vocabSize - 258;
        IntList left = new IntList();
        IntList right = new IntList();
        LongSet changed = new LongSet();
        while (left.size() < maxMerges && heap.size() > 0) {
            long count = heap.topCount();
            long best = heap.topKey();
            heap.pop();
            if (pairCount.getIfAbsent(best, 0) != count) {
                continue; // stale entry
            }
            if (count < minFrequency) {
                break;
            }
            int a = (int) (best >>> 32);
            int b = (int) best;
            int newId = 258 + left.size();
            left.add(a);
            right.add(b);
            IntList ws = where.remove(best);
            changed.clear();
            for (int k = 0; k < ws.size(); k++) {
                int w = ws.get(k);
                int[] s = words[w];
                int n = lens[w];
                boolean has = false;
                for (int i = 0; i + 1 < n; i++) {
                    if (s[i] == a && s[i + 1] == b) {
                        has = true;
                        break;
                    }
                }
                if (!has) {
                    continue; // the chunk lost this pair to an earlier merge
                }
                long weight = weights[w];
                for (int i = 0; i + 1 < n; i++) {
                    long p = BpeTokenizer.pair(s[i], s[i + 1]);
                    long c = pairCount.addToValue(p, -weight);
                    if (c == 0) {
                        pairCount.remove(p);
                    }
                    changed.add(p);
                }
                int j = 0;
                for (int i = 0; i < n; ) {
                    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                        s[j++] = newId;
                        i += 2;
                    } else {
                        s[j++] = s[i++];
                    }
                }
                n = j;
                lens[w] = n;
                for (int i = 0; i + 1 < n; i++) {
                    long p = BpeTokenizer.pair(s[i], s[i + 1]);
                    pairCount.addToValue(p, weight);
                    changed.add(p);
                    if (s[i] == newId || s[i + 1] == newId) {
                        IntList list = where.getIfAbsentPut(p, IntList::new);
                        if (list.isEmpty() || list.getLast() != w) {
                            list.add(w);
                        }
                    }
                }
            }
            changed.forEach(p -> {
                long c = pairCount.getIfAbsent(p, 0);
                if (c > 0) {
                    heap.push(p, c);
                }
            });
        }
        long t2 = System.nanoTime();
        BpeTokenizer tok = BpeTokenizer.withMerges(left.toArray(), right.toArray());
        return new Result(tok, totalChunks, keys.length, left.size(), (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    /** Distinct pre-tokenized chunks with their counts, counted in parallel slices. */
    private static Map<String, long[]> countChunks(List<String> texts) {
        int slices = Math.max(1, Math.min(texts.size(), Parallel.threads() * 4));
        List<Map<String, long[]>> parts = new ArrayList<>(slices);
        for (int i = 0; i < slices; i++) {
            parts.add(null);
        }
        Parallel.parallelFor(slices, s -> {
            Map<String, long[]> m = new HashMap<>();
            for (int i = s; i < texts.size(); i += slices) {
                PreTokenizer.split(texts.get(i), chunk -> {
                    long[] c = m.get(chunk);
                    if (c == null) {
                        m.put(chunk, new long[] {1});
                    } else {
                        c[0]++;
                    }
                });
            }
            synchronized (parts) {
                parts.set(s, m);
            }
        });
        Map<String, long[]> all = parts.get(0);
        for (int i = 1; i < slices; i++) {
            parts.get(i).forEach((k, v) -> {
                long[] c = all.get(k);
                if (c == null) {
                    all.put(k, v);
                } else {
                    c[0] += v[0];
                }
            });
        }
        return all;
    }

    /** A binary max-heap of (pair, count), largest count first, then smallest pair key. */
    static final class PairHeap {
        private long[] keys;
        private long[] counts;
        private int size;

        PairHeap(int capacity) {
            keys = new long[capacity];
            counts = new long[capacity];
        }

        int size() {
            return size;
        }

        long topKey() {
            return keys[0];
        }

        long topCount() {
            return counts[0];
        }

        private boolean before(int i, int j) {
            return counts[i] > counts[j] || (counts[i] == counts[j] && keys[i] < keys[j]);
        }

        private void swap(int i, int j) {
            long k = keys[i];
            keys[i] = keys[j];
            keys[j] = k;
            long c = counts[i];
            counts[i] = counts[j];
            counts[j] = c;
        }

        void push(long key, long count) {
            if (size == keys.length) {
                keys = Arrays.copyOf(keys, size * 2);
                counts = Arrays.copyOf(counts, size * 2);
            }
            keys[size] = key;
            counts[size] = count;
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (!before(i, parent)) {
                    break;
                }
                swap(i, parent);
                i = parent;
            }
        }

        void pop() {
            size--;
            keys[0] = keys[size];
            counts[0] = counts[size];
            int i = 0;
            while (true) {
                int l = 2 * i + 1;
                if (l >= size) {
                    break;
                }
                int c = l + 1 < size && before(l + 1, l) ? l + 1 : l;
                if (!before(c, i)) {
                    break;
                }
                swap(i, c);
                i = c;
            }
        }
    }
}
