package dev.lory4j.moe.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.nn.DecoderLM;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Data-parallel replicas in threads, summing through an in-memory all-reduce, against one trainer on the same
 * global batches: uneven shares of the rows, and rows whose targets are partly ignored (the shares are weighted by
 * counted tokens, not rows).
 */
class DataParallelTest {
    /** Batches of SyntheticSource with the first 3·r targets of row r ignored. */
    private static final class PaddedSource implements BatchSource {
        private final SyntheticSource inner = new SyntheticSource(16, 5, 8, 7, -1);

        @Override
        public Batch next() {
            Batch b = inner.next();
            int[] targets = b.targets().clone();
            for (int r = 0; r < b.batch(); r++) {
                for (int i = 0; i < Math.min(b.seqLen(), 3 * r); i++) {
                    targets[r * b.seqLen() + i] = DecoderLM.IGNORE_INDEX;
                }
            }
            return new Batch(b.tokens(), targets, b.batch(), b.seqLen(), b.domains());
        }

        @Override
        public long position() {
            return inner.position();
        }

        @Override
        public void seek(long p) {
            inner.seek(p);
        }
    }

    /** Sums the replicas' buffers in rank order; every replica gets the same array contents. */
    private static final class InMemorySum {
        private final float[][] slots;
        private final CyclicBarrier arrived;
        private final CyclicBarrier copied;

        InMemorySum(int replicas) {
            slots = new float[replicas][];
            arrived = new CyclicBarrier(replicas);
            copied = new CyclicBarrier(replicas);
        }

        DataParallel.AllReduce forRank(int rank) {
            return buf -> {
                try {
                    slots[rank] = buf.clone();
                    arrived.await();
                    float[] sum = slots[0].clone();
                    for (int r = 1; r < slots.length; r++) {
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] += slots[r][i];
                        }
                    }
                    copied.await();
                    System.arraycopy(sum, 0, buf, 0, buf.length);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
        }
    }

    @Test
    void threeReplicasOnUnevenSharesTrainLikeOneTrainer() throws Exception {
        MoeConfig c = MoeConfig.lory(TrainerTest.TINY, 3, 4);
        TrainConfig tc = TrainConfig.defaults(5, 3e-3f).withDenseWarmup(0.2f);
        Trainer.Result single = new Trainer(c, tc, new PaddedSource(), null, null).run();

        int w = 3; // 5 rows: shares of 1, 2 and 2 rows
        InMemorySum sum = new InMemorySum(w);
        ExecutorService pool = Executors.newFixedThreadPool(w);
        List<Future<Trainer.Result>> runs = new ArrayList<>();
        for (int r = 0; r < w; r++) {
            DataParallel dp = new DataParallel(r, w, sum.forRank(r));
            runs.add(pool.submit(() -> new Trainer(c, tc, new PaddedSource(), null, null).dataParallel(dp).run()));
        }
        List<Trainer.Result> results = new ArrayList<>();
        for (Future<Trainer.Result> f : runs) {
            results.add(f.get());
        }
        pool.shutdown();
        for (int s = 0; s < 5; s++) {
            for (Trainer.Result r : results) {
                assertThat((double) r.steps().get(s).loss()).as("step %d", s)
                        .isCloseTo(single.steps().get(s).loss(), org.assertj.core.data.Offset.offset(1e-4));
            }
        }
        Map<String, Tensor> want = single.model().lm().stateDict();
        Map<String, Tensor> first = results.get(0).model().lm().stateDict();
        for (String k : want.keySet()) {
            float[] a = want.get(k).toArray();
            for (int r = 1; r < w; r++) {
                assertThat(results.get(r).model().lm().stateDict().get(k).toArray()).as("%s on replica %d", k, r)
                        .isEqualTo(first.get(k).toArray());
            }
            float[] b = first.get(k).toArray();
            for (int i = 0; i < a.length; i++) {
                assertThat((double) b[i]).as("%s[%d]", k, i).isCloseTo(a[i], org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @Test
    void moreReplicasThanRowsAndCheckpointsOnOtherReplicasAreRefused() {
        MoeConfig c = MoeConfig.lory(TrainerTest.TINY, 3, 4);
        TrainConfig tc = TrainConfig.defaults(2, 3e-3f);
        DataParallel six = new DataParallel(0, 6, buf -> { });
        assertThatThrownBy(() -> new Trainer(c, tc, new PaddedSource(), null, null).dataParallel(six).run())
                .hasMessageContaining("5 rows cannot be shared by 6 replicas");
        assertThatThrownBy(() -> new Trainer(c, tc.withCheckpoints(java.nio.file.Path.of("x"), 1), new PaddedSource(),
                null, null).dataParallel(new DataParallel(1, 2, buf -> { })))
                .hasMessageContaining("only replica 0 writes checkpoints");
        assertThatThrownBy(() -> new DataParallel(2, 2, buf -> { })).hasMessageContaining("rank 2 of 2");
    }
}
