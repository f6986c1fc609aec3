package dev.lory4j.cli;

import static dev.lory4j.cli.MainTest.exec;
import static dev.lory4j.cli.MainTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.lory4j.autograd.io.Json;
import dev.lory4j.cli.ExperimentStats.Interval;
import dev.lory4j.cli.ExperimentStats.Losses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lory4j experiment --quick} end to end (every study, three seeds, a resume), and its statistics. */
class ExperimentTest {
    @TempDir
    Path dir;

    @Test
    @SuppressWarnings("unchecked")
    void quickExperimentRunsEveryStudyWithIntervalsAndResumes() throws Exception {
        Path out = dir.resolve("exp");
        String first = run("experiment", "--quick", "--out", out.toString());
        assertThat(first).contains("33 runs", "smoke test", "training ...").doesNotContain("loaded from");
        Map<String, Object> results = Json.parseObject(Files.readString(out.resolve("results.json")), "results");
        List<Map<String, Object>> studies = (List<Map<String, Object>>) results.get("studies");
        assertThat(studies).extracting(s -> s.get("study")).containsExactlyElementsOf(Experiment.STUDIES);
        for (Map<String, Object> s : studies) {
            for (Map<String, Object> a : (List<Map<String, Object>>) s.get("arms")) {
                boolean baseline = a.get("arm").equals(s.get("baseline"));
                assertThat(a.containsKey("change_vs_baseline")).isEqualTo(!baseline);
                Map<String, Map<String, Object>> ppl = (Map<String, Map<String, Object>>) a.get("perplexity");
                assertThat(ppl).isNotEmpty();
                for (Map<String, Object> p : ppl.values()) {
                    double v = ((Number) p.get("value")).doubleValue();
                    for (String ci : List.of("ci95_seeds", "ci95_documents")) {
                        List<Number> r = (List<Number>) p.get(ci);
                        assertThat(r.get(0).doubleValue()).as(ci).isLessThanOrEqualTo(v);
                        assertThat(r.get(1).doubleValue()).as(ci).isGreaterThanOrEqualTo(v);
                    }
                    assertThat(v).isGreaterThan(1).isLessThan(300); // byte vocabulary: at most 256 when trained
                }
            }
        }
        Map<String, Object> ood = studies.get(4);
        Map<String, Object> oodArm = ((List<Map<String, Object>>) ood.get("arms")).get(1);
        assertThat(((Map<String, Object>) oodArm.get("perplexity")).keySet())
                .containsExactly("legal (left out)", "seen domains");
        assertThat(Files.readString(out.resolve("results.md"))).contains("**Smoke test**", "### batching",
                "lory-E4-T16-random", "| baseline |");
        assertThat(Files.readString(out.resolve("report.html"))).contains("<svg viewBox=", "experts: How does");

        // A second invocation trains nothing: every run is read back, and the tables are the same.
        String second = run("experiment", "--quick", "--out", out.toString());
        assertThat(second).contains("loaded from").doesNotContain("training ...");
        assertThat(Files.readString(out.resolve("results.json"))).isEqualTo(Json.write(results));

        // Other settings on the same directory are refused, naming the file; an unknown study is named.
        MainTest.Result other = exec("experiment", "--quick", "--steps", "13", "--out", out.toString());
        assertThat(other.status()).isEqualTo(2);
        assertThat(other.err()).contains("seed-1.json was run with other settings", "\"steps\":12");
        MainTest.Result unknown = exec("experiment", "--quick", "--study", "baselines,nope", "--out",
                dir.resolve("x").toString());
        assertThat(unknown.err()).contains("unknown study 'nope'", "baselines, batching, segment, experts, ood");
        MainTest.Result domain = exec("experiment", "--quick", "--study", "ood", "--ood-domain", "poetry",
                "--out", dir.resolve("y").toString());
        assertThat(domain.err()).contains("--ood-domain 'poetry'", "code, fiction");
    }

    @Test
    void studentTQuantilesAndIntervals() {
        assertThat(ExperimentStats.t975(1)).isEqualTo(12.706);
        assertThat(ExperimentStats.t975(2)).isEqualTo(4.303);
        assertThat(ExperimentStats.t975(30)).isEqualTo(2.042);
        assertThat(ExperimentStats.t975(1000)).isCloseTo(1.962, within(1e-3));
        // 1, 2, 3: mean 2, sd 1, half width 4.303 / sqrt(3)
        Interval i = ExperimentStats.meanInterval(new double[] {3, 1, 2});
        assertThat(i.value()).isEqualTo(2);
        assertThat(i.high() - i.value()).isCloseTo(4.303 / Math.sqrt(3), within(1e-12));
        assertThat(i.value() - i.low()).isCloseTo(4.303 / Math.sqrt(3), within(1e-12));
        double[] p = ExperimentStats.percentiles95(new double[] {4, 0, 2, 1, 3});
        assertThat(p[0]).isCloseTo(0.1, within(1e-12));
        assertThat(p[1]).isCloseTo(3.9, within(1e-12));
    }

    @Test
    void bootstrapWeightsResampleEveryDocumentCount() {
        int[][] w = ExperimentStats.bootstrapWeights(7, 500, 3);
        double[] mean = new double[7];
        for (int[] row : w) {
            assertThat(java.util.Arrays.stream(row).sum()).isEqualTo(7);
            for (int d = 0; d < 7; d++) {
                mean[d] += row[d] / 500.0;
            }
        }
        for (double m : mean) {
            assertThat(m).isCloseTo(1.0, within(0.15)); // each document drawn once per resample on average
        }
        assertThat(ExperimentStats.bootstrapWeights(7, 500, 3)).isDeepEqualTo(w);
    }

    @Test
    void changeIsExactForAKnownShiftAndZeroAgainstItself() {
        SplittableRandom r = new SplittableRandom(5);
        int seeds = 3;
        int docs = 9;
        long[] tokens = new long[docs];
        double[][] base = new double[seeds][docs];
        double[][] shifted = new double[seeds][docs];
        for (int d = 0; d < docs; d++) {
            tokens[d] = 50 + r.nextInt(400);
        }
        for (int s = 0; s < seeds; s++) {
            for (int d = 0; d < docs; d++) {
                base[s][d] = tokens[d] * (3 + r.nextDouble());
                shifted[s][d] = base[s][d] - 0.05 * tokens[d]; // 0.05 nats per token less: ppl x exp(-0.05)
            }
        }
        Losses b = new Losses(base, tokens);
        Losses x = new Losses(shifted, tokens);
        int[][] w = ExperimentStats.bootstrapWeights(docs, 200, 1);
        Interval[] change = ExperimentStats.change(x, b, w);
        for (Interval c : change) {
            assertThat(c.value()).isCloseTo(Math.expm1(-0.05), within(1e-12));
            assertThat(c.low()).isCloseTo(Math.expm1(-0.05), within(1e-9));
            assertThat(c.high()).isCloseTo(Math.expm1(-0.05), within(1e-9));
        }
        Interval[] self = ExperimentStats.change(b, b, w);
        assertThat(self[0].value()).isZero();
        assertThat(self[1].high()).isZero();
        Interval[] ppl = ExperimentStats.perplexity(b, w);
        double expected = 0;
        for (int s = 0; s < seeds; s++) {
            expected += b.logPerplexity(s, null) / seeds;
        }
        assertThat(ppl[0].value()).isCloseTo(Math.exp(expected), within(1e-9));
        assertThat(ppl[0].low()).isLessThan(ppl[0].value());
        assertThat(ppl[1].low()).isLessThan(ppl[1].value()).isGreaterThan(0);
    }
}
