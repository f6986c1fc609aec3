package dev.lory4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Measures the ring all-reduce of data-parallel training where it runs: one barrier task per worker, the same
 * {@link RingAllReduce#join} and {@link RingAllReduce#sum} as training, buffers of the given sizes.
 */
public final class AllReduceBench {
    private AllReduceBench() {
    }

    /**
     * One measured size.
     *
     * @param floats        buffer length
     * @param bytesPerSum   bytes replica 0 sent per sum
     * @param secondsPerSum wall seconds per sum (replica 0, after warm-up)
     */
    public record Row(int floats, double bytesPerSum, double secondsPerSum) implements Serializable {
    }

    /** Sums buffers of each size {@code reps} times (after 2 warm-up sums) on {@code workers} barrier tasks. */
    public static List<Row> run(JavaSparkContext sc, int workers, int[] sizes, int reps) {
        RDD<Integer> ranks = sc.parallelize(IntStream.range(0, workers).boxed().toList(), workers).rdd();
        Object rows = ranks.barrier().mapPartitions(new Task(sizes, reps), false, ClassTag$.MODULE$.apply(Row.class))
                .collect();
        List<Row> out = new ArrayList<>();
        for (Object o : (Object[]) rows) {
            out.add((Row) o);
        }
        return out;
    }

    private static final class Task extends AbstractFunction1<scala.collection.Iterator<Integer>,
            scala.collection.Iterator<Row>> implements Serializable {
        private final int[] sizes;
        private final int reps;

        Task(int[] sizes, int reps) {
            this.sizes = sizes;
            this.reps = reps;
        }

        @Override
        public scala.collection.Iterator<Row> apply(scala.collection.Iterator<Integer> ignored) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            List<Row> rows = new ArrayList<>();
            try (RingAllReduce ring = RingAllReduce.join(ctx, 120_000)) {
                Random rnd = new Random(ctx.partitionId());
                for (int n : sizes) {
                    float[] buf = new float[n];
                    for (int i = 0; i < n; i++) {
                        buf[i] = (float) rnd.nextGaussian();
                    }
                    ring.sum(buf);
                    ring.sum(buf);
                    long bytes0 = ring.bytesSent();
                    double s0 = ring.seconds();
                    for (int r = 0; r < reps; r++) {
                        ring.sum(buf);
                    }
                    rows.add(new Row(n, (double) (ring.bytesSent() - bytes0) / reps, (ring.seconds() - s0) / reps));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return CollectionConverters.asScala((ctx.partitionId() == 0 ? rows : List.<Row>of()).iterator());
        }
    }
}
