package dev.lory4j.bench.data;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.BpeTokenizer;
import dev.lory4j.data.tokenizer.BpeTrainer;
import dev.lory4j.tensor.kernels.Parallel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * BPE training speed: trains on the first {@code --mb} megabytes (UTF-8) of a corpus to {@code --vocab} ids
 * and prints the time split into chunk counting and merging, plus the compression reached.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... dev.lory4j.bench.data.BpeTrainBench --mb 10 --vocab 4096</pre>
 */
public final class BpeTrainBench {
    private static final String USAGE = "BpeTrainBench [--corpus bundled|PATH] [--mb 10] [--vocab 4096] "
            + "[--out tokenizer.json]   (threads: -Dlory4j.threads=N)";

    private BpeTrainBench() {
    }

    /** Runs the benchmark (see the class comment for the arguments). */
    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv, USAGE, java.util.Set.of("corpus", "mb", "out", "vocab"));
        String src = a.get("corpus", "bundled");
        long budget = (long) (a.getDouble("mb", 10) * 1_000_000);
        int vocab = a.getInt("vocab", 4096);
        Corpus corpus = src.equals("bundled") ? Corpus.bundled() : Corpus.open(Path.of(src));
        List<String> texts = new ArrayList<>();
        long bytes = 0;
        for (Document d : corpus) {
            if (bytes >= budget) {
                break;
            }
            String t = d.text();
            int b = t.getBytes(StandardCharsets.UTF_8).length;
            if (bytes + b > budget) {
                t = t.substring(0, (int) Math.min(t.length(), budget - bytes)); // ASCII-dominated: close enough
                b = t.getBytes(StandardCharsets.UTF_8).length;
            }
            texts.add(t);
            bytes += b;
        }
        System.out.printf("BPE training: %.2f MB from %s (%d documents), vocab %d, %d threads%n",
                bytes / 1e6, corpus.name(), texts.size(), vocab, Parallel.threads());
        long t0 = System.nanoTime();
        BpeTrainer.Result r = new BpeTrainer(vocab).train(texts);
        double total = (System.nanoTime() - t0) / 1e9;
        BpeTokenizer tok = r.tokenizer();
        long tokens = 0;
        long t1 = System.nanoTime();
        for (String t : texts) {
            tokens += tok.encode(t).length;
        }
        double enc = (System.nanoTime() - t1) / 1e9;
        System.out.printf("chunks %d (%d distinct), merges %d: count %.2f s + merge %.2f s = %.2f s total%n",
                r.chunks(), r.distinctChunks(), r.merges(), r.countSeconds(), r.mergeSeconds(), total);
        System.out.printf("encode: %d tokens, %.2f bytes/token, %.2f MB/s%n", tokens, bytes / (double) tokens,
                bytes / 1e6 / enc);
        String out = a.get("out", null);
        if (out != null) {
            tok.save(Path.of(out));
            System.out.println("wrote " + out);
        }
    }
}
