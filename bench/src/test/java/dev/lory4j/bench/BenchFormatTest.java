package dev.lory4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchFormatTest {

    @Test
    void gemmRowsBecomeTheDocumentedJson() {
        GemmCompare.Row r = new GemmCompare.Row("1024x1024x1024", 1, 70.123456, 85.5, 0.8201, 0.8, 0.84, 12);
        assertThat(Json.array(List.of(r.toJson()))).isEqualTo(
                "[{\"shape\":\"1024x1024x1024\",\"threads\":1,\"ours_gflops\":70.1235,\"peer_gflops\":85.5,"
                        + "\"ratio\":0.8201}]");
    }

    @Test
    void jsonEscapesStringsAndWritesOneRowPerLine(@TempDir Path dir) throws Exception {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("s", "q\"b\\n\n\u0001");
        a.put("nan", Double.NaN);
        a.put("big", 1e12);
        a.put("long", 3L);
        Map<String, Object> b = Map.of("zero", -0.0);
        String json = Json.array(List.of(a, b));
        assertThat(json).isEqualTo("[\n{\"s\":\"q\\\"b\\\\n\\n\\u0001\",\"nan\":null,\"big\":1000000000000,"
                + "\"long\":3},\n{\"zero\":0}\n]");
        Path f = dir.resolve("sub/out.json");
        Json.write(f, List.of(a, b));
        assertThat(Files.readString(f)).isEqualTo(json + "\n");
        assertThat(Json.array(List.of())).isEqualTo("[]");
    }

    @Test
    void rowsSurviveTheChildProtocolExactly() {
        GemmCompare.Row g = new GemmCompare.Row("4096x4096x256T", 2, 1.0 / 3, 2.0 / 3, 0.5, 0.25, 0.75, 7);
        assertThat(GemmCompare.Row.fromLine(g.toLine())).isEqualTo(g);
        ElementwiseCompare.Row e = new ElementwiseCompare.Row("silu", 1 << 20, 1, 12.3, 45.6, 0.27, 0.2, 0.3, 9);
        assertThat(ElementwiseCompare.Row.fromLine(e.toLine())).isEqualTo(e);
    }

    @Test
    void tableAlignsNumbersRightAndTextLeft() {
        String t = BenchMain.gemmTable(List.of(
                new GemmCompare.Row("256x256x256", 1, 50.04, 60, 0.834, 0.8, 0.9, 5),
                new GemmCompare.Row("4096x4096x256T", 2, 150, 160.25, 0.9375, 0.9, 0.95, 11)));
        assertThat(t).isEqualTo("""
                shape           threads  ours GFLOP/s  OpenBLAS GFLOP/s  ratio  ratio p25-p75  pairs
                --------------  -------  ------------  ----------------  -----  -------------  -----
                256x256x256           1          50.0              60.0   0.83  0.80-0.90          5
                4096x4096x256T        2         150.0             160.3   0.94  0.90-0.95         11
                """);
    }

    @Test
    void shapesParseAndName() {
        assertThat(GemmShape.parseList("all")).isEqualTo(GemmShape.DEFAULTS);
        assertThat(GemmShape.DEFAULTS.stream().map(GemmShape::name).toList()).containsExactly(
                "256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "4096x688x256",
                "4096x256x688", "4096x256x256", "4096x4096x256T");
        assertThat(GemmShape.parseList("1024, 4096x4096x256T,1024"))
                .containsExactly(GemmShape.square(1024), new GemmShape(4096, 4096, 256, true));
        assertThat(GemmShape.parse("32*128x688x256T")).isEqualTo(new GemmShape(32, 128, 688, 256, true));
        assertThat(new GemmShape(32, 128, 688, 256, true).name()).isEqualTo("32*128x688x256T");
        assertThat(new GemmShape(32, 128, 688, 256, true).flops()).isEqualTo(2.0 * 32 * 128 * 688 * 256);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> GemmShape.parse("x*12x3x4"))
                .hasMessageContaining("batch 'x' is not a number");
        GemmShape t = GemmShape.parse("8x6x4T");
        assertThat(t.ldb()).isEqualTo(4);
        assertThat(t.lda()).isEqualTo(4);
        assertThat(t.flops()).isEqualTo(2.0 * 8 * 6 * 4);
        assertThatThrownBy(() -> GemmShape.parse("12x3")).hasMessageContaining("--shapes").hasMessageContaining("12x3");
        assertThatThrownBy(() -> GemmShape.parse("0x3x3")).hasMessageContaining("--shapes");
    }

    @Test
    void unknownArgumentsAreNamed() {
        String[] args = {"gemm", "--threads", "1", "--bogus", "2"};
        assertThatThrownBy(() -> BenchMain.options("gemm", args, Set.of("threads")))
                .isInstanceOf(BenchMain.UsageException.class).hasMessageContaining("'--bogus'");
        assertThatThrownBy(() -> BenchMain.options("gemm", new String[] {"gemm", "--threads"}, Set.of("threads")))
                .hasMessageContaining("Missing required parameter for option '--threads'");
        assertThatThrownBy(() -> BenchMain.options("gemm", new String[] {"gemm", "--threads", "1", "--threads", "2"},
                Set.of("threads"))).hasMessageContaining("should be specified only once");
        assertThat(BenchMain.options("gemm", new String[] {"gemm", "--threads=1,2"}, Set.of("threads")))
                .containsEntry("threads", "1,2");
        assertThatThrownBy(() -> BenchMain.run(new String[] {"frobnicate"}, System.out, System.err))
                .hasMessageContaining("'frobnicate'");
        assertThatThrownBy(() -> BenchMain.parseSize("--sizes", "12Q")).hasMessageContaining("--sizes")
                .hasMessageContaining("12Q");
        assertThat(BenchMain.parseSize("--sizes", "16M")).isEqualTo(16 << 20);
        assertThat(BenchMain.sizeLabel(1 << 20)).isEqualTo("1M");
    }

    @Test
    void quantilesInterpolate() {
        assertThat(PairTimer.quantile(new double[] {4, 1, 3, 2}, 0.5)).isEqualTo(2.5);
        assertThat(PairTimer.quantile(new double[] {4, 1, 3, 2}, 0.25)).isEqualTo(1.75);
        assertThat(PairTimer.quantile(new double[] {7}, 0.75)).isEqualTo(7);
    }

    @Test
    void openBlasPeerComputesASmallProduct() {
        int m = 7;
        int n = 5;
        int k = 9;
        for (boolean transB : new boolean[] {false, true}) {
            float[] a = GemmCompare.random(m * k, 3);
            float[] b = GemmCompare.random(k * n, 4);
            int ldb = transB ? k : n;
            float[] c = GemmCompare.random(m * n, 5);
            float[] want = new float[m * n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += (double) a[i * k + p] * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                    }
                    want[i * n + j] = (float) (2 * s + 0.5 * c[i * n + j]);
                }
            }
            OpenBlas.setThreads(1);
            OpenBlas.sgemm(false, transB, m, n, k, 2f, a, k, b, ldb, 0.5f, c, n);
            assertThat(GemmCompare.relativeError(c, want)).as("transB=%s", transB).isLessThan(1e-6);
        }
    }
}
