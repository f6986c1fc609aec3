package dev.lory4j.data.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.data.Corpus;
import dev.lory4j.data.Document;
import dev.lory4j.data.Split;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PackingTest {
    static final ByteTokenizer BYTES = new ByteTokenizer();

    static List<Document> docs(String... texts) {
        List<Document> d = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            d.add(Document.of("d" + i, i % 2 == 0 ? "even" : "odd", texts[i]));
        }
        return d;
    }

    @Test
    void packsDocumentsWithBoundariesAndKeepsTheirSpans() {
        List<Document> d = docs("abcde", "fg", "hijklmn", "op");
        PackedSequences p = new Packer(BYTES, 4).pack(d, new int[] {2, 0, 1, 3});
        // stream: hijklmn| abcde| fg| op|  = 8 + 6 + 3 + 3 = 20 tokens -> 5 sequences of 4, nothing dropped
        assertThat(p.size()).isEqualTo(5);
        assertThat(p.droppedTokens()).isZero();
        StringBuilder all = new StringBuilder();
        for (int s = 0; s < p.size(); s++) {
            all.append(BYTES.decode(p.tokens(s)));
        }
        assertThat(all.toString()).isEqualTo("hijklmn<|endoftext|>abcde<|endoftext|>fg<|endoftext|>op<|endoftext|>");
        assertThat(p.documentIds()).containsExactly("d2", "d0", "d1", "d3");
        assertThat(p.documents(0)).containsExactly(0);
        // sequences: "hijk" "lmn|" "abcd" "e|fg" "|op|"
        assertThat(p.documents(1)).containsExactly(0);
        assertThat(p.documents(3)).containsExactly(1, 2);
        assertThat(p.segmentStarts(3)).containsExactly(0, 2);
        assertThat(p.documents(4)).containsExactly(2, 3);
        assertThat(p.segmentStarts(4)).containsExactly(0, 1);
    }

    @Test
    void segmentsAndDomains() {
        List<Document> d = docs("aaaaaa", "bb", "cccc");
        PackedSequences p = new Packer(BYTES, 5).pack(d, new int[] {0, 1, 2});
        // stream: aaaaaa| bb| cccc| = 7 + 3 + 5 = 15 -> 3 sequences
        assertThat(p.size()).isEqualTo(3);
        assertThat(p.documents(0)).containsExactly(0);
        assertThat(p.documents(1)).containsExactly(0, 1);
        assertThat(p.segmentStarts(1)).containsExactly(0, 2);
        assertThat(p.documents(2)).containsExactly(2);
        assertThat(p.tokenDomains(1)).containsExactly("even", "even", "odd", "odd", "odd");
        assertThat(p.majorityDomain(1)).isEqualTo("odd");
        assertThat(p.purity(1)).isEqualTo(0.6);
        assertThat(p.purity(0)).isEqualTo(1.0);
        PackedSequences q = new Packer(BYTES, 4).pack(d, new int[] {0, 1, 2});
        assertThat(q.size()).isEqualTo(3);
        assertThat(q.droppedTokens()).isEqualTo(3);
        assertThatThrownBy(() -> new Packer(BYTES, 1)).hasMessageContaining("seqLen 1");
    }

    @Test
    void nearDuplicatesNextToEachOtherAreDropped() {
        String base = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software";
        List<String> texts = List.of(base, base + " (c)", "Something else entirely, about whales.", base);
        NearDuplicateFilter f = new NearDuplicateFilter(0.85, 2000);
        assertThat(f.similarity(texts.get(0), texts.get(1))).isGreaterThan(0.85);
        assertThat(f.similarity(texts.get(0), texts.get(2))).isLessThan(0.2);
        NearDuplicateFilter.Result r = f.filter(new int[] {0, 1, 2, 3}, texts);
        assertThat(r.kept()).containsExactly(0, 2, 3);
        assertThat(r.dropped()).containsExactly(1);
        assertThat(new NearDuplicateFilter(0.99, 2000).filter(new int[] {0, 1, 2, 3}, texts).dropped()).isEmpty();
        assertThatThrownBy(() -> new NearDuplicateFilter(1.5, 10)).hasMessageContaining("1.5");
    }

    @Test
    void batchIteratorShufflesPerEpochAndResumesExactly() {
        List<Document> d = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            d.add(Document.of("d" + i, "x", "document number " + i + " ".repeat(i % 7)));
        }
        PackedSequences p = new Packer(BYTES, 16).pack(d, Packer.randomOrder(40, 1));
        int batch = 4;
        BatchIterator.Position start = new BatchIterator.Position(99, 0, 0);
        List<int[]> plain = new ArrayList<>();
        BatchIterator.Position saved = null;
        try (BatchIterator it = new BatchIterator(p, batch, start, 3, 0)) {
            int perEpoch = it.batchesPerEpoch();
            Set<Integer> epoch0 = new HashSet<>();
            while (it.hasNext()) {
                if (plain.size() == perEpoch + 2) {
                    saved = it.position();
                }
                BatchIterator.Batch b = it.next();
                if (b.position().epoch() == 0) {
                    for (int s : b.sequences()) {
                        assertThat(epoch0.add(s)).isTrue(); // no sequence twice in an epoch
                    }
                }
                plain.add(b.tokens());
            }
            assertThat(plain).hasSize(3 * perEpoch);
            assertThat(saved).isEqualTo(new BatchIterator.Position(99, 1, 2));
        }
        // prefetching gives the same batches
        try (BatchIterator it = new BatchIterator(p, batch, start, 3, 3)) {
            int i = 0;
            while (it.hasNext()) {
                assertThat(it.next().tokens()).containsExactly(plain.get(i++));
            }
            assertThat(i).isEqualTo(plain.size());
        }
        // resuming from the saved position continues exactly
        try (BatchIterator it = new BatchIterator(p, batch, saved, 3, 2)) {
            int first = it.batchesPerEpoch() + 2; // the batch the position was saved before
            int i = first;
            while (it.hasNext()) {
                assertThat(it.next().tokens()).containsExactly(plain.get(i++));
            }
            assertThat(i - first).as("batches after the resume").isEqualTo(plain.size() - first).isPositive();
        }
        // a different seed gives a different order
        try (BatchIterator it = new BatchIterator(p, batch, new BatchIterator.Position(7, 0, 0), 1, 0)) {
            assertThat(it.next().tokens()).isNotEqualTo(plain.get(0));
        }
        assertThatThrownBy(() -> new BatchIterator(p, 1000, start, 1, 0)).hasMessageContaining("batchSize 1000");
    }

    @Test
    void similarityPackingRaisesAdjacentSimilarityAndDomainPurityOnTheBundledCorpus() {
        List<Document> train = Corpus.bundled().split(Split.TRAIN).load();
        SimilarityBatching.Result r = SimilarityBatching.defaults().order(train);
        assertThat(r.order().length + r.dropped().length).isEqualTo(train.size());
        Packer packer = new Packer(BYTES, 4096);
        PackedSequences similar = packer.pack(train, r.order());
        PackedSequences random = packer.packRandom(train, 1234);
        var rows = PackingMetrics.rowsById(train.stream().map(Document::id).toList());
        PackingMetrics ms = PackingMetrics.measure(similar, r.embeddings(), rows);
        PackingMetrics mr = PackingMetrics.measure(random, r.embeddings(), rows);
        assertThat(ms.meanAdjacentCosine()).isGreaterThan(mr.meanAdjacentCosine() + 0.1);
        assertThat(ms.meanPurity()).isGreaterThan(mr.meanPurity());
        assertThat(ms.sameDomainAdjacent()).isGreaterThan(mr.sameDomainAdjacent());
        System.out.println("similarity packing: " + ms + "\nrandom packing:     " + mr);
    }
}
