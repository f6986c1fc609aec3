package dev.lory4j.data.batch;

import dev.lory4j.data.embed.Embeddings;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The numbers a report shows to compare similarity packing with random packing.
 *
 * @param meanAdjacentCosine   mean cosine similarity of consecutive documents inside the same sequence
 * @param adjacentPairs        how many such pairs there are
 * @param meanPurity           mean over sequences of the share of tokens from the sequence's majority domain
 * @param sameDomainAdjacent   share of those consecutive pairs whose two documents have the same domain
 * @param sequences            number of sequences
 */
public record PackingMetrics(double meanAdjacentCosine, long adjacentPairs, double meanPurity,
                             double sameDomainAdjacent, int sequences) {

    /**
     * Measures {@code packed}; {@code rowOfDocId} maps a packed document id to its row of {@code embeddings}.
     */
    public static PackingMetrics measure(PackedSequences packed, Embeddings embeddings, Map<String, Integer> rowOfDocId) {
        List<String> ids = packed.documentIds();
        List<String> domains = packed.documentDomains();
        int[] rows = new int[ids.size()];
        for (int i = 0; i < rows.length; i++) {
            Integer r = rowOfDocId.get(ids.get(i));
            if (r == null) {
                throw new IllegalArgumentException("PackingMetrics.measure: document " + ids.get(i)
                        + " has no embedding row");
            }
            rows[i] = r;
        }
        double cos = 0;
        long pairs = 0;
        long same = 0;
        double purity = 0;
        for (int s = 0; s < packed.size(); s++) {
            int[] docs = packed.documents(s);
            for (int j = 0; j + 1 < docs.length; j++) {
                cos += embeddings.dot(rows[docs[j]], rows[docs[j + 1]]);
                pairs++;
                if (domains.get(docs[j]).equals(domains.get(docs[j + 1]))) {
                    same++;
                }
            }
            purity += packed.purity(s);
        }
        int n = packed.size();
        return new PackingMetrics(pairs == 0 ? Double.NaN : cos / pairs, pairs, n == 0 ? Double.NaN : purity / n,
                pairs == 0 ? Double.NaN : (double) same / pairs, n);
    }

    /** Row index of each document id, for {@link #measure}. */
    public static Map<String, Integer> rowsById(List<String> ids) {
        Map<String, Integer> m = new HashMap<>(ids.size() * 2);
        for (int i = 0; i < ids.size(); i++) {
            m.put(ids.get(i), i);
        }
        return m;
    }

    /** One line for logs and reports. */
    @Override
    public String toString() {
        return String.format("adjacent cosine %.4f over %d pairs, same-domain neighbours %.3f, domain purity %.3f "
                + "over %d sequences", meanAdjacentCosine, adjacentPairs, sameDomainAdjacent, meanPurity, sequences);
    }
}
