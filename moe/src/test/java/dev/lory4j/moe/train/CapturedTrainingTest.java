package dev.lory4j.moe.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Captured training (the default: each batch shape traced once, then replayed) gives the eager run's
 * ({@code -Dlory4j.capture=false})
 * loss curve and final weights bit for bit, across the dense warm-up and the upcycling to an MoE, for every kind: the
 * token-level baselines' routing masks are part of the graph, so a replay routes each new batch afresh.
 */
class CapturedTrainingTest {

    @AfterEach
    void clear() {
        System.clearProperty("lory4j.capture");
    }

    private static Trainer.Result train(MoeKind kind, boolean capture, java.util.List<String> messages) {
        System.setProperty("lory4j.capture", Boolean.toString(capture));
        TrainConfig tc = TrainConfig.defaults(10, 5e-3f).withDenseWarmup(0.3f);
        return new Trainer(MoeConfig.lory(TrainerTest.TINY, 3, 4).withKind(kind), tc,
                new SyntheticSource(16, 2, 8, 3, -1), null, ProgressListener.messages(messages::add)).run();
    }

    @ParameterizedTest
    @EnumSource(value = MoeKind.class, names = {"LORY", "DENSE", "TOPK", "EXPERT_CHOICE"})
    void capturedTrainingEqualsEagerTraining(MoeKind kind) {
        java.util.List<String> messages = new java.util.ArrayList<>();
        Trainer.Result eager = train(kind, false, messages);
        assertThat(messages).noneMatch(m -> m.startsWith("traced"));
        Trainer.Result captured = train(kind, true, messages);
        // traced in the dense warm-up, and again after upcycling to the MoE (a new model)
        assertThat(messages.stream().filter(m -> m.startsWith("traced the training step for batches of 2x8")))
                .hasSize(kind == MoeKind.DENSE ? 1 : 2);
        for (int i = 0; i < 10; i++) {
            assertThat(captured.steps().get(i).loss()).as("step %d", i).isEqualTo(eager.steps().get(i).loss());
        }
        Map<String, Tensor> want = eager.model().lm().stateDict();
        captured.model().lm().stateDict().forEach((name, t) ->
                assertThat(t.toArray()).as(name).containsExactly(want.get(name).toArray()));
    }
}
