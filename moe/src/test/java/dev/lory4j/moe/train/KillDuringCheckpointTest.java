package dev.lory4j.moe.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.autograd.io.Checkpoint;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run killed with SIGKILL while it writes a checkpoint leaves the previous checkpoint whole, and a resume
 * from it (which clears the half-written file) ends with the uninterrupted run's checkpoint, byte for byte.
 */
class KillDuringCheckpointTest {
    private static Process child(Path dir) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        return new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), CheckpointedRun.class.getName(), dir.toString()))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    private static boolean writing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp"));
        }
    }

    @Test
    void killedMidWriteThenResumedEqualsTheUninterruptedRun(@TempDir Path root) throws Exception {
        Path whole = Files.createDirectories(root.resolve("whole"));
        CheckpointedRun.trainer(whole).run();
        byte[] want = Files.readAllBytes(whole.resolve("latest.safetensors"));

        Path killed = null;
        for (int attempt = 0; attempt < 5 && killed == null; attempt++) { // the kill may land just after a rename
            Path dir = Files.createDirectories(root.resolve("killed" + attempt));
            Process p = child(dir);
            Object seen = null;
            int completed = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            // wait for two complete checkpoints, then kill at the first sight of the next write
            while (p.isAlive() && System.nanoTime() < deadline) {
                Path latest = dir.resolve("latest.safetensors");
                if (completed < 2) {
                    Object key = Files.exists(latest) ? Files.getLastModifiedTime(latest).toMillis() + "/"
                            + Files.readAttributes(latest, java.nio.file.attribute.BasicFileAttributes.class).fileKey()
                            : null;
                    if (key != null && !key.equals(seen)) {
                        seen = key;
                        completed++;
                    }
                } else if (writing(dir)) {
                    p.destroyForcibly(); // SIGKILL
                    break;
                }
                Thread.onSpinWait();
            }
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            if (writing(dir)) {
                killed = dir;
            }
        }
        assertThat(killed).as("a child killed while it wrote a checkpoint, leaving the half-written file").isNotNull();
        long step = Checkpoint.load(killed.resolve("latest.safetensors")).state().step(); // loads: whole
        assertThat(step).isBetween(2L, (long) CheckpointedRun.STEPS - 1);

        CheckpointedRun.trainer(killed).resume(killed.resolve("latest.safetensors"));
        assertThat(writing(killed)).isFalse();
        assertThat(Files.readAllBytes(killed.resolve("latest.safetensors"))).isEqualTo(want);
    }
}
