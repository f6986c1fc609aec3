package dev.lory4j.moe.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeKind;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.tensor.Rng;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static final DecoderConfig TINY = new DecoderConfig(16, 32, 2, 2, 48, 1e-5f, 10000, false, 64, 0.02f, true);

    static Map<String, List<Batch>> evalSets() {
        Batch b = SyntheticSource.make(16, 4, 16, new Rng(99));
        return Map.of("synthetic", List.of(b));
    }

    @Test
    void loryTrainsWithDenseWarmupAndLossFalls() {
        List<String> messages = new ArrayList<>();
        ProgressListener listen = ProgressListener.messages(messages::add);
        TrainConfig tc = TrainConfig.defaults(40, 1e-2f).withDenseWarmup(0.1f).withEvalEvery(20);
        Trainer t = new Trainer(MoeConfig.lory(TINY, 4, 4), tc, new SyntheticSource(16, 4, 16, 1, -1), evalSets(),
                listen);
        Trainer.Result r = t.run();
        assertThat(r.steps()).hasSize(40);
        assertThat(r.steps().get(0).phase()).isEqualTo("dense");
        assertThat(r.steps().get(39).phase()).isEqualTo("lory");
        assertThat(messages).anyMatch(m -> m.contains("dense warm-up done"));
        assertThat(r.steps().get(0).loss()).isGreaterThan(2.5f); // ln 16 = 2.77 at init
        assertThat(r.steps().get(39).loss()).isLessThan(1.0f);
        assertThat(r.evals()).hasSize(2);
        assertThat(r.evals().get(1).perplexity().get("all")).isLessThan(r.evals().get(0).perplexity().get("all") * 1.5);
        // Experts have diverged from each other after upcycling (different routing -> different gradients).
        var gate = r.model().loryLayers().get(0).experts().gate().data();
        assertThat(gate.select(0, 0).allClose(gate.select(0, 1), 1e-6f, 1e-7f)).isFalse();
        RoutingTrace trace = new RoutingTrace();
        r.model().setTrace(trace);
        Batch b = SyntheticSource.make(16, 2, 16, new Rng(5));
        r.model().lm().forward(b.tokens(), b.batch(), b.seqLen());
        assertThat(trace.entries()).hasSize(2 * 2 * 4); // layers x rows x segments
    }

    @Test
    void aModelAndOptimizerTheCallerBuiltTrainAsTheTrainersOwnWould() {
        MoeConfig c = MoeConfig.lory(TINY, 3, 4);
        TrainConfig tc = TrainConfig.builder().steps(6).lr(5e-3f).denseWarmupFraction(0).seed(11).build();
        Trainer.Result own = new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null).run();
        dev.lory4j.moe.MoeModel mine = new dev.lory4j.moe.MoeModel(c, new Rng(11));
        var opt = new dev.lory4j.autograd.optim.AdamW(mine.lm().namedParameters(), tc.lr(), tc.beta1(), tc.beta2(),
                1e-8f, tc.weightDecay());
        Trainer.Result given = new Trainer(mine, opt, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null).run();
        assertThat(given.model()).isSameAs(mine);
        assertThat(opt.steps()).isEqualTo(6);
        for (int i = 0; i < 6; i++) {
            assertThat(given.steps().get(i).loss()).isEqualTo(own.steps().get(i).loss());
        }
        own.model().lm().stateDict().forEach((name, t) -> assertThat(mine.lm().stateDict().get(name).toArray())
                .as(name).containsExactly(t.toArray()));
    }

    @Test
    void aStepWithFiniteLossButNonFiniteGradientsStopsBeforeTheUpdateAndKeepsTheLastCheckpoint(@TempDir Path dir)
            throws Exception {
        MoeConfig c = MoeConfig.dense(TINY);
        TrainConfig tc = TrainConfig.builder().steps(6).lr(5e-3f).denseWarmupFraction(0).seed(11)
                .checkpoints(dir, 2).build();
        dev.lory4j.moe.MoeModel model = new dev.lory4j.moe.MoeModel(c, new Rng(11));
        // after two good steps (checkpointed), a feed-forward block whose up projection is zero and whose down
        // projection is near the largest float: its output is exactly 0 (the loss stays finite), but the gradient
        // that flows back through the down projection overflows
        SyntheticSource data = new SyntheticSource(16, 2, 8, 3, -1);
        BatchSource poisoning = new BatchSource() {
            @Override
            public Batch next() {
                if (data.position() == 2) {
                    model.lm().namedParameters().get("model.layers.0.mlp.up_proj.weight").data().fill(0f);
                    model.lm().namedParameters().get("model.layers.0.mlp.down_proj.weight").data().fill(3e38f);
                }
                return data.next();
            }

            @Override
            public long position() {
                return data.position();
            }

            @Override
            public void seek(long p) {
                data.seek(p);
            }
        };
        Trainer t = new Trainer(model, null, tc, poisoning, null, null);
        assertThatThrownBy(t::run).isInstanceOf(Trainer.NonFiniteLossException.class)
                .hasMessageContaining("training stopped at step 2").hasMessageContaining("gradient norm is Infinity")
                .hasMessageContaining("first: 'model.layers.0.mlp.").hasMessageContaining("the update was not applied");
        // nothing was updated with the bad gradients; the checkpoint is step 2's, all finite
        assertThat(finite(model.lm().namedParameters().get("model.layers.0.self_attn.q_proj.weight").data()
                .toArray())).isTrue();
        assertThat(model.lm().namedParameters().get("model.layers.0.mlp.up_proj.weight").data().toArray())
                .containsOnly(0f);
        var saved = dev.lory4j.autograd.io.Checkpoint.load(dir.resolve("latest.safetensors"));
        assertThat(saved.state().step()).isEqualTo(2);
        assertThat(saved.model().values()).allSatisfy(tensor -> assertThat(finite(tensor.toArray())).isTrue());
    }

    private static boolean finite(float[] a) {
        for (float v : a) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    @Test
    void resumeChecksTheCheckpointsConfigAndMetadataBeforeRestoring(@TempDir Path dir) throws Exception {
        MoeConfig c = MoeConfig.lory(TINY, 3, 4);
        TrainConfig tc = TrainConfig.builder().steps(4).lr(5e-3f).denseWarmupFraction(0).checkpoints(dir, 2).build();
        new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null).run();
        Path ckpt = dir.resolve("latest.safetensors");
        assertThatThrownBy(() -> new Trainer(MoeConfig.lory(TINY, 3, 8), tc, new SyntheticSource(16, 2, 8, 3, -1),
                null, null).resume(ckpt)).hasMessageContaining("was trained with 'segment_length' = 4, this run has 8");

        dev.lory4j.moe.MoeModel m = new dev.lory4j.moe.MoeModel(c, new Rng(1));
        var opt = new dev.lory4j.autograd.optim.AdamW(m.lm().namedParameters());
        record Case(long step, String position, String error) {}
        for (Case k : List.of(new Case(-1, "3", "at step -1, outside this run's [0, 4]"),
                new Case(9, "3", "at step 9, outside"), new Case(2, "abc", "'data_position' must be a non-negative "
                        + "integer, got 'abc'"), new Case(2, "-4", "got '-4'"), new Case(1, "3", "holds 0 optimizer"))) {
            Path bad = dir.resolve("bad.safetensors");
            dev.lory4j.autograd.io.Checkpoint.save(bad, m.lm(), c.toMap(), k.error().contains("optimizer") ? null : opt,
                    new dev.lory4j.autograd.io.Checkpoint.TrainState(k.step(), 0, 0, Map.of("phase", "moe",
                            "data_position", k.position())));
            if (k.error().contains("optimizer")) { // an optimizer that claims more steps than the run took
                var ahead = new dev.lory4j.autograd.optim.AdamW(m.lm().namedParameters());
                for (var p : m.lm().parameters()) {
                    p.setGrad(dev.lory4j.tensor.Tensor.zeros(p.shape()));
                }
                ahead.step();
                ahead.step();
                dev.lory4j.autograd.io.Checkpoint.save(bad, m.lm(), c.toMap(), ahead,
                        new dev.lory4j.autograd.io.Checkpoint.TrainState(k.step(), 0, 0, Map.of("phase", "moe",
                                "data_position", k.position())));
            }
            String want = k.error().contains("optimizer") ? "holds 2 optimizer steps at step 1" : k.error();
            assertThatThrownBy(() -> new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null).resume(bad))
                    .as(k.toString()).hasMessageContaining(want).hasMessageContaining("bad.safetensors");
        }
    }

    @Test
    void aCrashedCheckpointWriteIsCleanedAtTheNextStartAndAFinishedOneKept(@TempDir Path dir) throws Exception {
        java.nio.file.Files.writeString(dir.resolve(".latest.safetensors.0123456789abcdef.tmp"), "half a file");
        java.nio.file.Files.writeString(dir.resolve("notes.tmp"), "not ours");
        TrainConfig tc = TrainConfig.builder().steps(2).lr(5e-3f).denseWarmupFraction(0).checkpoints(dir, 1).build();
        List<String> messages = new ArrayList<>();
        new Trainer(MoeConfig.dense(TINY), tc, new SyntheticSource(16, 2, 8, 3, -1), null, ProgressListener.messages(messages::add)).run();
        assertThat(dir.resolve(".latest.safetensors.0123456789abcdef.tmp")).doesNotExist();
        assertThat(dir.resolve("notes.tmp")).exists();
        assertThat(dir.resolve("latest.safetensors")).exists();
        assertThat(messages).anyMatch(m -> m.contains("removed 1 unfinished checkpoint write"));
        assertThatThrownBy(() -> dev.lory4j.autograd.io.Checkpoint.load(dir))
                .hasMessageContaining("is a directory, not a safetensors file");
    }

    @Test
    void resumeRefusesAnotherSeedOrANegativeRngPosition(@TempDir Path dir) throws Exception {
        MoeConfig c = MoeConfig.lory(TINY, 3, 4);
        TrainConfig tc = TrainConfig.builder().steps(4).lr(5e-3f).denseWarmupFraction(0).seed(7).build();
        dev.lory4j.moe.MoeModel m = new dev.lory4j.moe.MoeModel(c, new Rng(1));
        Path bad = dir.resolve("rng.safetensors");
        for (long[] rng : new long[][] {{7, -1}, {8, 0}}) {
            dev.lory4j.autograd.io.Checkpoint.save(bad, m.lm(), c.toMap(), null,
                    new dev.lory4j.autograd.io.Checkpoint.TrainState(1, rng[0], rng[1], Map.of("phase", "moe")));
            assertThatThrownBy(() -> new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null).resume(bad))
                    .hasMessageContaining("holds RNG seed " + rng[0] + " at position " + rng[1]);
        }
    }

    @Test
    void everyKindTrains() {
        for (MoeKind kind : MoeKind.values()) {
            MoeConfig c = MoeConfig.lory(TINY, 4, 4).withKind(kind);
            TrainConfig tc = TrainConfig.defaults(12, 1e-2f).withDenseWarmup(0.25f);
            Trainer.Result r = new Trainer(c, tc, new SyntheticSource(16, 4, 16, 2, -1), null, null).run();
            assertThat(r.steps().get(11).loss()).as(kind.key()).isLessThan(r.steps().get(0).loss());
        }
    }

    @Test
    void resumeReproducesTheLossCurveExactly(@TempDir Path dir) throws Exception {
        MoeConfig c = MoeConfig.lory(TINY, 3, 4);
        TrainConfig tc = TrainConfig.defaults(10, 5e-3f).withDenseWarmup(0.3f).withCheckpoints(dir, 5);
        Trainer.Result whole = new Trainer(c, tc.withCheckpoints(null, 0), new SyntheticSource(16, 2, 8, 3, -1),
                null, null).run();
        // A run that crashes when asked for batch 6 (after the checkpoint at step 5, and after upcycling at 3).
        Trainer crashing = new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, 6), null, null);
        assertThatThrownBy(crashing::run).hasMessageContaining("simulated crash at batch 6");
        Trainer.Result resumed = new Trainer(c, tc, new SyntheticSource(16, 2, 8, 3, -1), null, null)
                .resume(dir.resolve("latest.safetensors"));
        assertThat(resumed.steps()).hasSize(10); // the history before the resume comes back with the checkpoint
        for (int i = 0; i < 10; i++) {
            assertThat(resumed.steps().get(i).loss()).as("step %d", i).isEqualTo(whole.steps().get(i).loss());
            assertThat(resumed.steps().get(i).step()).isEqualTo(i);
        }
    }

    @Test
    void nonFiniteLossStopsWithTheStep() {
        // Decoupled weight decay with lr * wd = 1000 multiplies every weight by -999 per step: overflow.
        TrainConfig tc = new TrainConfig(30, 1e4f, 1e4f, 0f, 0.1f, 0.9f, 0.95f, 1e30f, 0f, 0, 0, null, 1);
        Trainer t = new Trainer(MoeConfig.dense(TINY), tc, new SyntheticSource(16, 2, 8, 4, -1), null, null);
        assertThatThrownBy(t::run).isInstanceOf(Trainer.NonFiniteLossException.class)
                .hasMessageMatching("(?s)training stopped at step \\d+: loss is (NaN|Infinity).*");
    }
}
