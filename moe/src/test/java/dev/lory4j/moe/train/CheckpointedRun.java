package dev.lory4j.moe.train;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.MoeConfig;
import java.nio.file.Path;

/**
 * A training run with a checkpoint after every step, for {@link KillDuringCheckpointTest}: started in a child JVM that
 * the test kills; {@code args}: the checkpoint directory, {@code run} or {@code resume}.
 */
public final class CheckpointedRun {
    private CheckpointedRun() {}

    static final int STEPS = 8;

    /** A model big enough that a checkpoint write takes a while (about 25 MB with the optimizer's moments). */
    static MoeConfig config() {
        DecoderConfig d = DecoderConfig.builder().vocabSize(4096).hiddenSize(256).numLayers(2).numHeads(4)
                .intermediateSize(512).maxPositions(64).build();
        return MoeConfig.lory(d, 2, 8);
    }

    static Trainer trainer(Path dir) {
        TrainConfig tc = TrainConfig.builder().steps(STEPS).lr(3e-3f).denseWarmupFraction(0.25f).seed(5)
                .checkpoints(dir, 1).build();
        return new Trainer(config(), tc, new SyntheticSource(4096, 2, 16, 9, -1), null, null);
    }

    /** Runs (or resumes) the training into {@code args[0]}. */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        if (args.length > 1 && args[1].equals("resume")) {
            trainer(dir).resume(dir.resolve("latest.safetensors"));
        } else {
            trainer(dir).run();
        }
    }
}
