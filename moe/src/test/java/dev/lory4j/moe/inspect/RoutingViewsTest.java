package dev.lory4j.moe.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.moe.ExpertBank;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.Batch;
import dev.lory4j.moe.train.Trainer;
import dev.lory4j.tensor.Rng;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The numbers and data the routing views show: mutual information, distances, trace rows, charts. */
class RoutingViewsTest {
    static final DecoderConfig TINY = new DecoderConfig(260, 16, 2, 2, 24, 1e-5f, 10000, false, 64, 0.02f, true);

    @Test
    void mutualInformationMatchesHandComputedValues() {
        // equal domains, weights 0.75/0.25 mirrored: I = 1 - H(0.75) = 1 - 0.811278 bits
        assertThat(RoutingStats.mutualInformationBits(new double[][] {{0.75, 0.25}, {0.25, 0.75}},
                new double[] {5, 5})).isCloseTo(1 - 0.8112781, within(1e-6));
        // each domain its own expert: I = H(domain) = 1 bit; with masses 3:1, H(0.75) = 0.811278 bits
        assertThat(RoutingStats.mutualInformationBits(new double[][] {{1, 0}, {0, 1}}, new double[] {2, 2}))
                .isCloseTo(1, within(1e-12));
        assertThat(RoutingStats.mutualInformationBits(new double[][] {{1, 0}, {0, 1}}, new double[] {3, 1}))
                .isCloseTo(0.8112781, within(1e-6));
        // the same routing everywhere: nothing shared; a domain without segments counts for nothing
        assertThat(RoutingStats.mutualInformationBits(new double[][] {{0.2, 0.8}, {0.2, 0.8}, {Double.NaN,
            Double.NaN}}, new double[] {7, 1, 0})).isCloseTo(0, within(1e-12));
        assertThatThrownBy(() -> RoutingStats.mutualInformationBits(new double[][] {{1, 0}}, new double[] {1, 1}))
                .hasMessageContaining("mutualInformationBits").hasMessageContaining("1 rows").hasMessageContaining("2");
        assertThatThrownBy(() -> RoutingStats.mutualInformationBits(new double[][] {{1, -0.5}}, new double[] {1}))
                .hasMessageContaining("-0.5");
    }

    @Test
    void specialisationIsTheDeviationFromTheSegmentWeightedLayerMean() {
        double[][] dev = RoutingStats.specialisation(new double[][] {{0.8, 0.2}, {0.4, 0.6}, {Double.NaN,
            Double.NaN}}, new double[] {1, 3, 0});
        // layer mean: (0.8 + 3 * 0.4) / 4 = 0.5 and 0.5
        assertThat(dev[0]).containsExactly(new double[] {0.3, -0.3}, within(1e-12));
        assertThat(dev[1]).containsExactly(new double[] {-0.1, 0.1}, within(1e-12));
        assertThat(dev[2][0]).isNaN();
    }

    @Test
    void expertDistanceIsOneMinusCosineWithABlankDiagonal() {
        ExpertBank bank = new ExpertBank(3, 1, 1, 0.1f, 0.1f, new Rng(1));
        // flattened (gate, up, down): e0 = (1, 0, 0), e1 = (1, 1, 0), e2 = (0, 0, 2)
        float[][] v = {{1, 0, 0}, {1, 1, 0}, {0, 0, 2}};
        for (int e = 0; e < 3; e++) {
            bank.gate().data().set(v[e][0], e, 0, 0);
            bank.up().data().set(v[e][1], e, 0, 0);
            bank.down().data().set(v[e][2], e, 0, 0);
        }
        double[][] d = RoutingStats.expertDistance(bank);
        assertThat(d[0][1]).isCloseTo(1 - 1 / Math.sqrt(2), within(1e-6));
        assertThat(d[1][0]).isCloseTo(1 - 1 / Math.sqrt(2), within(1e-6));
        assertThat(d[0][2]).isCloseTo(1, within(1e-6));
        assertThat(d[0][0]).isNaN();
        assertThat(RoutingStats.range(List.<double[][]>of(d))).containsExactly(new double[] {1 - 1 / Math.sqrt(2), 1},
                within(1e-6));
    }

    @Test
    void traceRowsAreNumberedOverTheWholeTraceWithTheirTokenRanges() {
        RoutingTrace trace = new RoutingTrace();
        float[] w = new float[2 * 3 * 2];
        java.util.Arrays.fill(w, 0.5f);
        for (int pass = 0; pass < 2; pass++) {
            trace.setRows(List.of(new RoutingTrace.Row("a", null, null), RoutingTrace.Row.of("b")), 10, 4,
                    RoutingMode.CAUSAL_SEGMENT);
            trace.record(0, 2, 3, 2, w);
            trace.record(1, 2, 3, 2, w);
        }
        trace.record(0, 2, 3, 2, w); // layer 0 again without setRows: a third pass
        List<RoutingTrace.Entry> e = trace.entries();
        assertThat(e).hasSize(5 * 6);
        assertThat(e.stream().filter(x -> x.layer() == 0).map(RoutingTrace.Entry::rowId).distinct())
                .containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
        RoutingTrace.Entry last = e.get(e.size() - 1);
        assertThat(new int[] {last.segment(), last.tokenStart(), last.tokenEnd(), last.weightsFrom()})
                .containsExactly(2, 8, 10, 1);
        assertThat(e.get(0).ownTokens()).isTrue(); // segment 0 routes on itself
        assertThat(e.get(1).weightsFrom()).isZero();
        assertThat(e.get(1).ownTokens()).isFalse();
        assertThat(trace.toCsv()).startsWith(String.join(",", RoutingTrace.COLUMNS)
                + ",w0,w1\n0,0,0,0,a,,,0,4,0,true,");
        assertThatThrownBy(() -> trace.record(0, 2, 3, 2, new float[5])).hasMessageContaining("RoutingTrace.record")
                .hasMessageContaining("5 weights");
    }

    @Test
    void aTracedModelRecordsUniqueKeysAndConsistentDocumentRanges() {
        MoeModel model = new MoeModel(MoeConfig.lory(TINY, 3, 8), new Rng(3));
        ByteTokenizer tok = new ByteTokenizer();
        Document doc = Document.of("d1", "code", "for (int i = 0; i < n; i++) { total += values[i]; } return x;");
        LabelledBatch one = LabelledBatch.document(doc, tok, 20);
        Batch other = Batch.fromSequences(new int[][] {new int[21], new int[21]}, new String[] {"x", "y"});
        RoutingTrace trace = RoutingReport.trace(model, List.of(one, LabelledBatch.of(other), one));
        Set<String> keys = new HashSet<>();
        for (RoutingTrace.Entry e : trace.entries()) {
            assertThat(keys.add(e.layer() + "/" + e.domain() + "/" + e.rowId() + "/" + e.segment())).isTrue();
            assertThat(e.tokenStart()).isEqualTo(8 * e.segment());
            assertThat(e.tokenEnd()).isEqualTo(Math.min(20, e.tokenStart() + 8));
            assertThat(e.weightsFrom()).isEqualTo(Math.max(0, e.segment() - 1));
            if ("code".equals(e.domain())) {
                assertThat(e.document()).isEqualTo("d1");
                assertThat(e.docOffset()).isEqualTo(e.tokenStart());
            } else {
                assertThat(e.document()).isNull();
            }
        }
        assertThat(trace.entries().stream().map(RoutingTrace.Entry::rowId).distinct()).containsExactly(0L, 1L, 2L,
                3L);
        assertThat(RoutingReport.mutualInformation(trace, 3, List.of("code", "x", "y"))).containsOnlyKeys("layer 0",
                "layer 1");
    }

    @Test
    void everyChartScalesWithItsContainer() {
        MoeModel model = new MoeModel(MoeConfig.lory(TINY, 3, 8), new Rng(3));
        ByteTokenizer tok = new ByteTokenizer();
        List<Document> docs = List.of(Document.of("d1", "code", "int x = 1; ".repeat(5)),
                Document.of("d2", "prose", "Call me Ishmael. ".repeat(4)));
        List<LabelledBatch> batches = new ArrayList<>();
        docs.forEach(d -> batches.add(LabelledBatch.document(d, tok, 32)));
        RoutingTrace trace = RoutingReport.trace(model, batches);
        String html = RoutingReport.sections(model, trace, List.of("code", "prose"))
                + RoutingReport.documentSection(model, docs, tok, 32)
                + Svg.lineChart("loss", "step", "loss", List.of(new Svg.Series("a", new double[] {0, 1},
                new double[] {3, 2})), 1.5, 2.5, List.of(new Svg.Marker(1, "upcycling")), 500, 300);
        Matcher m = Pattern.compile("<svg[^>]*>").matcher(html);
        int n = 0;
        while (m.find()) {
            n++;
            assertThat(m.group()).contains("viewBox='0 0 ").contains("width='100%'").doesNotContainPattern(
                    " width='\\d+'");
        }
        assertThat(n).isGreaterThan(8);
        assertThat(html).contains("not that the expert is idle").contains("bits").contains("upcycling")
                .contains("weights from segment 0").contains("Ishmael");
    }

    @Test
    void runStatsFindTheUpcyclingStepAndARobustRange() {
        List<Trainer.StepLog> steps = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            steps.add(new Trainer.StepLog(i, i == 0 ? 50f : 3f - i * 0.01f, 1e-3, 1, i < 2 ? Double.NaN : 100,
                    i < 4 ? "dense" : "lory"));
        }
        assertThat(RunStats.upcycleStep(steps)).isEqualTo(4);
        assertThat(RunStats.tokensPerSecond(steps)).isCloseTo(100, within(1e-9));
        double[] range = RunStats.robustRange(RunStats.losses(steps), 0.05);
        assertThat(range[1]).isLessThan(4); // the first steps' 50 does not set the top
        assertThat(range[0]).isLessThan(3 - 39 * 0.01);
        assertThat(RunStats.smoothed(new double[] {1, 3, 5, 7}, 2)).containsExactly(1, 2, 4, 6);
    }

    @Test
    void activeParametersOfLoryAreTheDenseModelsPlusTheRouters() {
        MoeModel dense = new MoeModel(MoeConfig.dense(TINY), new Rng(1));
        MoeModel lory = new MoeModel(MoeConfig.lory(TINY, 4, 8), new Rng(1));
        long routers = lory.loryLayers().stream().mapToLong(l -> l.router().parameterCount()).sum();
        assertThat(RunStats.activeParameters(dense)).isEqualTo(dense.lm().parameterCount());
        assertThat(RunStats.activeParameters(lory)).isEqualTo(dense.lm().parameterCount() + routers)
                .isLessThan(lory.lm().parameterCount());
    }
}
