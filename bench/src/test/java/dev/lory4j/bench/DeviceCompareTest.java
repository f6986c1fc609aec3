package dev.lory4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeviceCompareTest {
    private static final PrintStream SINK = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

    @Test
    void gemmRowsSurviveTheTripFromTheChild() {
        DeviceCompare.GemmRow r = new DeviceCompare.GemmRow("32*128x688x256T", "NVIDIA H100 (NVIDIA CUDA)", 16,
                Double.NaN, 62.04, 276.4, 3.2e-7);
        assertThat(DeviceCompare.GemmRow.fromLine(r.toLine())).isEqualTo(r);
        assertThatThrownBy(() -> DeviceCompare.GemmRow.fromLine("a\tb")).hasMessageContaining("7 fields");
        String table = DeviceCompare.gemmTable(List.of(r));
        assertThat(table).contains("32*128x688x256T", "NVIDIA H100", " - ", "62.0", "276.4", "3.2e-07");
    }

    @Test
    void trainTableShowsTheDeviceOverCpuRatio() {
        String table = DeviceCompare.trainTable(List.of(new DeviceCompare.TrainRow("dense", "GPU", 16, 2000, 4000,
                567.8, 123.4)));
        assertThat(table).contains("dense", "GPU", "2000.0", "4000.0", "0.50", "123.4", "567.8", "MB copied/step",
                "warm-up");
        // a whole-model plan copies kilobytes per step: shown, not rounded to 0.0
        String small = DeviceCompare.trainTable(List.of(new DeviceCompare.TrainRow("lory", "GPU", 16, 2000, 4000,
                0.01294, 19.1)));
        assertThat(small).contains("0.0129", "19.1");
    }

    @Test
    void unknownBackendsAndAMissingSdkAreUsageErrors() {
        assertThatThrownBy(() -> BenchMain.run(new String[] {"gemm", "--backend", "cuda"}, SINK, SINK))
                .isInstanceOf(BenchMain.UsageException.class).hasMessageContaining("--backend: 'cuda'");
        assumeTrue(System.getenv("TORNADOVM_HOME") == null, "an SDK is configured here");
        assertThatThrownBy(() -> BenchMain.run(new String[] {"train", "--backend", "tornado"}, SINK, SINK))
                .isInstanceOf(BenchMain.UsageException.class).hasMessageContaining("TORNADOVM_HOME");
    }

    @Test
    void signalChainingPreloadsLibjsigBeforeWhatWasThere() {
        Map<String, String> env = new HashMap<>(Map.of("LD_PRELOAD", "/x/libother.so"));
        DeviceCompare.signalChaining(env);
        assertThat(env.get("LD_PRELOAD")).endsWith("libjsig.so:/x/libother.so")
                .startsWith(System.getProperty("java.home"));
    }
}
