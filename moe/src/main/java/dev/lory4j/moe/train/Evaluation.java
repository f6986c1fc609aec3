package dev.lory4j.moe.train;

import dev.lory4j.autograd.NoGrad;
import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.Tokenizer;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Perplexity over all of a text: each document is tokenized, every token after its first is predicted once, in
 * windows of the model's length L (a window reads L tokens and predicts the L after them; the last window of a
 * document is padded, its padding skipped), and the losses are summed per domain. The command line's {@code eval},
 * the demo and user code share it.
 */
public final class Evaluation {
    private Evaluation() {}

    /** One domain's result: predicted tokens, mean loss (nats per token) and perplexity. */
    public record Domain(String domain, long tokens, double meanLoss, double perplexity) {}

    /** The result: per domain (sorted) and over everything ({@code all}), with the routing mode used. */
    public record Report(RoutingMode routing, int windowLength, List<Domain> domains, Domain all) {}

    /** The windows of every document, batched per domain (rows of one domain, {@code batch} at a time). */
    public static Map<String, List<Batch>> windows(List<Document> docs, Tokenizer tokenizer, int length, int batch) {
        if (length <= 0 || batch <= 0) {
            throw new IllegalArgumentException("Evaluation: window length " + length + " and batch " + batch
                    + " must be positive");
        }
        Map<String, List<int[]>> rows = new TreeMap<>();
        for (Document d : docs) {
            int[] ids = tokenizer.encode(d.text());
            for (int start = 0; start + 1 < ids.length; start += length) {
                int end = Math.min(ids.length, start + length + 1);
                int[] row = new int[length + 1];
                java.util.Arrays.fill(row, -1);
                System.arraycopy(ids, start, row, 0, end - start);
                rows.computeIfAbsent(d.domain(), k -> new ArrayList<>()).add(row);
            }
        }
        Map<String, List<Batch>> out = new LinkedHashMap<>();
        int pad = tokenizer.padId();
        rows.forEach((domain, list) -> {
            List<Batch> batches = new ArrayList<>();
            for (int from = 0; from < list.size(); from += batch) {
                int n = Math.min(batch, list.size() - from);
                int[] x = new int[n * length];
                int[] y = new int[n * length];
                String[] domains = new String[n];
                for (int r = 0; r < n; r++) {
                    int[] row = list.get(from + r);
                    domains[r] = domain;
                    for (int j = 0; j < length; j++) {
                        x[r * length + j] = row[j] < 0 ? pad : row[j];
                        y[r * length + j] = row[j + 1] < 0 ? DecoderLM.IGNORE_INDEX : row[j + 1];
                    }
                }
                batches.add(new Batch(x, y, n, length, domains));
            }
            out.put(domain, batches);
        });
        return out;
    }

    /** The targets of b that a loss counts (not {@link DecoderLM#IGNORE_INDEX}). */
    public static long counted(Batch b) {
        long n = 0;
        for (int t : b.targets()) {
            n += t == DecoderLM.IGNORE_INDEX ? 0 : 1;
        }
        return n;
    }

    /** The first batches of each domain, up to {@code rows} rows per domain (the last batch may pass it). */
    public static Map<String, List<Batch>> capped(Map<String, List<Batch>> sets, int rows) {
        Map<String, List<Batch>> out = new LinkedHashMap<>();
        sets.forEach((domain, batches) -> {
            List<Batch> kept = new ArrayList<>();
            int n = 0;
            for (Batch b : batches) {
                if (n >= rows) {
                    break;
                }
                kept.add(b);
                n += b.batch();
            }
            out.put(domain, kept);
        });
        return out;
    }

    /**
     * The mean loss and perplexity of {@code model} on these batches per domain, with its Lory layers routing in
     * {@code routing}; the model's own modes are restored afterwards.
     */
    public static Report evaluate(MoeModel model, Map<String, List<Batch>> sets, RoutingMode routing) {
        return evaluate(model, sets, routing, d -> { });
    }

    /** {@link #evaluate(MoeModel, Map, RoutingMode)}, telling {@code progress} each domain as it is done. */
    public static Report evaluate(MoeModel model, Map<String, List<Batch>> sets, RoutingMode routing,
                                  java.util.function.Consumer<Domain> progress) {
        boolean wasTraining = model.isTraining();
        RoutingMode wasRouting = model.routingMode();
        model.lm().eval();
        model.setRoutingMode(routing);
        List<Domain> domains = new ArrayList<>();
        double total = 0;
        long tokens = 0;
        int length = 0;
        try (NoGrad ng = NoGrad.enter()) {
            for (Map.Entry<String, List<Batch>> e : sets.entrySet()) {
                double sum = 0;
                long n = 0;
                for (Batch b : e.getValue()) {
                    length = b.seqLen();
                    long counted = counted(b);
                    if (counted == 0) {
                        continue;
                    }
                    float loss = model.lm().forward(b.tokens(), b.batch(), b.seqLen())
                            .crossEntropy(b.targets(), DecoderLM.IGNORE_INDEX).item();
                    sum += loss * (double) counted;
                    n += counted;
                }
                if (n > 0) {
                    domains.add(new Domain(e.getKey(), n, sum / n, Math.exp(sum / n)));
                    progress.accept(domains.get(domains.size() - 1));
                    total += sum;
                    tokens += n;
                }
            }
        } finally {
            model.lm().train(wasTraining);
            model.setRoutingMode(wasRouting);
        }
        Domain all = tokens == 0 ? new Domain("all", 0, Double.NaN, Double.NaN)
                : new Domain("all", tokens, total / tokens, Math.exp(total / tokens));
        return new Report(routing, length, domains, all);
    }
}
