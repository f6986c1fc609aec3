package dev.lory4j.data.knn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.data.embed.Embeddings;
import dev.lory4j.data.embed.HashedTfIdfEmbedder;
import dev.lory4j.tensor.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

class NeighborIndexTest {
    /** Clustered unit vectors: c clusters around random centres, with noise. */
    static Embeddings clustered(int n, int dim, int clusters, long seed) {
        float[] centres = new Rng(seed).normal(0, 1, clusters, dim).toArray();
        float[] noise = new Rng(seed + 1).normal(0, 0.6f, n, dim).toArray();
        float[] x = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int c = i % clusters;
            for (int j = 0; j < dim; j++) {
                x[i * dim + j] = centres[c * dim + j] + noise[i * dim + j];
            }
        }
        return new Embeddings(n, dim, x).normalizeRows();
    }

    @Test
    void exactMatchesBruteForce() {
        Embeddings e = clustered(333, 72, 7, 3); // sizes that are not multiples of the blocks or the lanes
        int k = 5;
        KnnGraph g = new ExactNeighborIndex().nearest(e, k);
        for (int i = 0; i < e.count(); i++) {
            double[] s = new double[e.count()];
            for (int j = 0; j < e.count(); j++) {
                double d = 0;
                for (int t = 0; t < e.dim(); t++) {
                    d += (double) e.data()[i * e.dim() + t] * e.data()[j * e.dim() + t];
                }
                s[j] = j == i ? Double.NEGATIVE_INFINITY : d;
            }
            for (int r = 0; r < k; r++) {
                int best = 0;
                for (int j = 1; j < s.length; j++) {
                    if (s[j] > s[best]) {
                        best = j;
                    }
                }
                assertThat(g.similarity(i, r)).isCloseTo((float) s[best], org.assertj.core.data.Offset.offset(1e-4f));
                if (r == 0) {
                    assertThat(g.neighbor(i, 0)).isEqualTo(best);
                }
                s[best] = Double.NEGATIVE_INFINITY;
            }
            assertThat(g.neighbors(i)).doesNotContain(i);
        }
    }

    @Test
    void fewerDocumentsThanKArePadded() {
        Embeddings e = clustered(3, 64, 1, 5);
        KnnGraph g = new ExactNeighborIndex().nearest(e, 4);
        assertThat(g.neighbors(0)).hasSize(2);
        assertThat(g.neighbor(0, 3)).isEqualTo(-1);
        assertThat(g.similarity(0, 3)).isNaN();
        assertThatThrownBy(() -> new ExactNeighborIndex().nearest(e, 0)).hasMessageContaining("k 0");
    }

    @Test
    void jvectorRecallAgainstExact() {
        Embeddings e = clustered(3000, 64, 30, 11);
        KnnGraph exact = new ExactNeighborIndex().nearest(e, 10);
        KnnGraph approx = new JVectorNeighborIndex().nearest(e, 10);
        double recall = approx.recallAgainst(exact);
        assertThat(recall).isGreaterThan(0.9);
        // the exact index against a brute-force reference written here: every pair's dot product, sorted
        for (int i = 0; i < 200; i++) {
            final int row = i;
            Integer[] others = java.util.stream.IntStream.range(0, e.count()).filter(j -> j != row).boxed()
                    .toArray(Integer[]::new);
            double[] dots = new double[e.count()];
            for (int j = 0; j < e.count(); j++) {
                for (int c = 0; c < e.dim(); c++) {
                    dots[j] += (double) e.data()[row * e.dim() + c] * e.data()[j * e.dim() + c];
                }
            }
            java.util.Arrays.sort(others, (a, b) -> Double.compare(dots[b], dots[a]));
            java.util.Set<Integer> want = new java.util.HashSet<>(java.util.Arrays.asList(others).subList(0, 10));
            int hits = 0;
            for (int n : exact.neighbors(i)) {
                hits += want.contains(n) ? 1 : 0;
            }
            // ties at the 10th place may pick either neighbour: at most one may differ
            assertThat(hits).as("row %d", i).isGreaterThanOrEqualTo(9);
        }
        for (int i = 0; i < e.count(); i++) {
            assertThat(approx.neighbors(i)).doesNotContain(i).hasSize(10);
        }
    }

    @Test
    void ivfRecallAgainstExactAndAutoChoosesBySize() {
        Embeddings e = clustered(3000, 64, 30, 12);
        KnnGraph exact = new ExactNeighborIndex().nearest(e, 10);
        KnnGraph ivf = new IvfNeighborIndex(0, 12, 6, 1).nearest(e, 10);
        assertThat(ivf.recallAgainst(exact)).isGreaterThan(0.9);
        // probing every list is exact
        KnnGraph all = new IvfNeighborIndex(20, 20, 3, 1).nearest(e, 10);
        assertThat(all.recallAgainst(exact)).isGreaterThan(0.999);
        assertThat(NeighborIndex.auto(5000).nearest(e, 10).ids()).containsExactly(exact.ids());
        assertThat(NeighborIndex.auto(100).describe()).contains("IVF");
    }

    @Test
    void tfIdfEmbeddingsAreNormalisedDeterministicAndTopical() {
        List<String> texts = List.of(
                "The whale swam through the deep ocean, and the harpooneers watched the whale.",
                "A great white whale in the ocean; the sailors feared the whale and the sea.",
                "public static int parse(String s) { return Integer.parseInt(s); } // parse an int",
                "private static long parseLong(String s) { return Long.parseLong(s); } // parse a long",
                "Permission is hereby granted, free of charge, to any person obtaining a copy");
        HashedTfIdfEmbedder emb = new HashedTfIdfEmbedder(16, 128, 7, 0);
        Embeddings e = emb.embed(texts);
        assertThat(e.count()).isEqualTo(5);
        assertThat(e.dim()).isEqualTo(128);
        for (int i = 0; i < 5; i++) {
            assertThat(e.dot(i, i)).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));
        }
        assertThat(e.dot(0, 1)).isGreaterThan(e.dot(0, 2)).isGreaterThan(0.15f);
        assertThat(e.dot(2, 3)).isGreaterThan(e.dot(2, 1));
        assertThat(emb.embed(texts).data()).containsExactly(e.data());
        KnnGraph g = new ExactNeighborIndex().nearest(e, 1);
        assertThat(g.neighbor(0, 0)).isEqualTo(1);
        assertThat(g.neighbor(3, 0)).isEqualTo(2);
        assertThatThrownBy(() -> new HashedTfIdfEmbedder(18, 100, 1, 0)).hasMessageContaining("dim 100");
    }

    @Test
    void documentFrequenciesOfPartsAddUpToTheWholeCorpusEmbedding() {
        java.util.Random r = new java.util.Random(9);
        java.util.List<String> texts = new java.util.ArrayList<>();
        String[] words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"};
        for (int i = 0; i < 70; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0, n = 3 + r.nextInt(40); j < n; j++) {
                sb.append(words[r.nextInt(words.length)]).append(r.nextInt(5)).append(' ');
            }
            texts.add(sb.toString());
        }
        dev.lory4j.data.embed.HashedTfIdfEmbedder e = new dev.lory4j.data.embed.HashedTfIdfEmbedder(12, 64, 5, 0);
        dev.lory4j.data.embed.Embeddings whole = e.embed(texts);
        var df = e.documentFrequencies(texts.subList(0, 33)).plus(e.documentFrequencies(texts.subList(33, 70)));
        assertThat(df.documents()).isEqualTo(70);
        dev.lory4j.data.embed.Embeddings second = e.embed(texts.subList(33, 70), df);
        for (int i = 0; i < 37; i++) {
            assertThat(second.row(i)).as("row %d", 33 + i).isEqualTo(whole.row(33 + i));
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new dev.lory4j.data.embed.HashedTfIdfEmbedder(10, 64,
                5, 0).embed(texts, df)).hasMessageContaining("2^10");
    }
}
