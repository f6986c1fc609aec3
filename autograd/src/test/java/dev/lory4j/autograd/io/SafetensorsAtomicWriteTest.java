package dev.lory4j.autograd.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A write that fails half-way leaves the previous file byte-identical and no temporary file behind. */
class SafetensorsAtomicWriteTest {
    @TempDir
    Path dir;

    @AfterEach
    void clearHook() {
        Safetensors.writeHook = null;
    }

    private Path writeFirstVersion() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, Map.of("w", Tensor.fromArray(new float[] {1, 2, 3}, 3)), Map.of("v", "1"));
        return file;
    }

    private static Map<String, Tensor> secondVersion() {
        return Map.of("w", Tensor.zeros(1000, 100), "b", Tensor.ones(100));
    }

    @Test
    void anIoErrorAfterPartOfTheFileIsWrittenLeavesThePreviousFile() throws Exception {
        Path file = writeFirstVersion();
        byte[] before = Files.readAllBytes(file);
        AtomicLong partialSize = new AtomicLong(-1);
        Safetensors.writeHook = tmp -> {
            assertThat(tmp.getParent()).isEqualTo(file.toAbsolutePath().getParent());
            partialSize.set(Files.size(tmp));
            throw new IOException("disk full (simulated)");
        };

        assertThatThrownBy(() -> Safetensors.write(file, secondVersion(), Map.of("v", "2")))
                .isInstanceOf(IOException.class).hasMessage("disk full (simulated)");

        assertThat(partialSize.get()).isGreaterThan(8).isLessThan(400_000); // header only, no data yet
        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        assertThat(dir.toFile().list()).containsExactly("model.safetensors");
        assertThat(Safetensors.read(file).metadata()).containsEntry("v", "1");
    }

    @Test
    void anUncheckedFailureMidWriteAlsoCleansUp() throws Exception {
        Path file = writeFirstVersion();
        byte[] before = Files.readAllBytes(file);
        Safetensors.writeHook = tmp -> {
            throw new IllegalStateException("crash (simulated)");
        };

        assertThatThrownBy(() -> Safetensors.write(file, secondVersion(), Map.of()))
                .isInstanceOf(IllegalStateException.class);

        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        assertThat(dir.toFile().list()).containsExactly("model.safetensors");
    }

    @Test
    void invalidInputIsRejectedBeforeAnythingIsWritten() throws Exception {
        Path file = writeFirstVersion();
        byte[] before = Files.readAllBytes(file);
        Safetensors.writeHook = tmp -> {
            throw new AssertionError("no temporary file should be started for invalid input");
        };

        assertThatThrownBy(() -> Safetensors.write(file, Map.of("ids", Tensor.scalar(0.5f)), Set.of("ids"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class);

        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        assertThat(dir.toFile().list()).containsExactly("model.safetensors");
    }

    @Test
    void aFailedRenameRemovesTheTemporaryFile() throws Exception {
        Path target = dir.resolve("occupied");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep.txt"), "x"); // a non-empty directory cannot be replaced by a file

        assertThatThrownBy(() -> Safetensors.write(target, Map.of("w", Tensor.ones(2)), Map.of()))
                .isInstanceOf(IOException.class);

        assertThat(dir.toFile().list()).containsExactly("occupied");
        assertThat(Files.readString(target.resolve("keep.txt"))).isEqualTo("x");
    }

    @Test
    void aSuccessfulWriteReplacesTheFileAndLeavesNothingElse() throws Exception {
        Path file = writeFirstVersion();
        Safetensors.write(file, secondVersion(), Map.of("v", "2"));
        SafetensorsFile read = Safetensors.read(file);
        assertThat(read.metadata()).containsEntry("v", "2");
        assertThat(read.require("w").shape()).containsExactly(1000, 100);
        assertThat(dir.toFile().list()).containsExactly("model.safetensors");
    }
}
