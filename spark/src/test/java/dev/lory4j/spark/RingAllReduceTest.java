package dev.lory4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The ring all-reduce between threads on loopback: sums, identical bits everywhere, failures reported. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RingAllReduceTest {
    /** Joins {@code w} replicas on loopback, in threads. */
    private static List<RingAllReduce> ring(int w, ExecutorService pool) throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        List<ServerSocket> servers = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < w; r++) {
            ServerSocket s = RingAllReduce.listen(lo);
            servers.add(s);
            addresses.add(lo.getHostAddress() + ":" + s.getLocalPort());
        }
        List<Future<RingAllReduce>> joined = new ArrayList<>();
        for (int r = 0; r < w; r++) {
            int rank = r;
            joined.add(pool.submit(() -> RingAllReduce.connect(rank, addresses, servers.get(rank), 5_000)));
        }
        List<RingAllReduce> out = new ArrayList<>();
        for (Future<RingAllReduce> f : joined) {
            out.add(f.get());
        }
        return out;
    }

    @Test
    void sumsAreCorrectAndBitIdenticalOnEveryReplica() throws Exception {
        for (int w : new int[] {1, 2, 3, 4}) {
            ExecutorService pool = Executors.newFixedThreadPool(w);
            List<RingAllReduce> ring = ring(w, pool);
            Random rnd = new Random(w);
            for (int n : new int[] {1, 3, 1001, 40_000}) {
                float[][] bufs = new float[w][n];
                double[] want = new double[n];
                for (int r = 0; r < w; r++) {
                    for (int i = 0; i < n; i++) {
                        bufs[r][i] = (float) rnd.nextGaussian();
                        want[i] += bufs[r][i];
                    }
                }
                List<Future<?>> done = new ArrayList<>();
                for (int r = 0; r < w; r++) {
                    int rank = r;
                    done.add(pool.submit(() -> ring.get(rank).sum(bufs[rank])));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                for (int i = 0; i < n; i++) {
                    assertThat((double) bufs[0][i]).as("w %d n %d element %d", w, n, i)
                            .isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5 * w));
                }
                for (int r = 1; r < w; r++) {
                    assertThat(bufs[r]).as("replica %d of %d, n %d", r, w, n).isEqualTo(bufs[0]);
                }
            }
            if (w > 1) {
                // each sum sends 2 (w - 1) chunks of about n / w floats, plus a 4-byte header each
                long sent = ring.get(0).bytesSent();
                long payload = 0;
                for (int n : new int[] {1, 3, 1001, 40_000}) {
                    payload += 2L * (w - 1) * 4 + 4L * 2 * (w - 1) * n / w;
                }
                assertThat((double) sent).isCloseTo(payload, org.assertj.core.data.Offset.offset(16.0 * w));
            }
            ring.forEach(RingAllReduce::close);
            pool.shutdownNow();
        }
    }

    @Test
    void aReplicaThatGoesAwayFailsItsNeighbourWithAClearError() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<RingAllReduce> ring = ring(3, pool);
        ring.get(1).close();
        assertThatThrownBy(() -> ring.get(2).sum(new float[100]))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("replica 2 of 3");
        ring.forEach(RingAllReduce::close);
        pool.shutdownNow();
    }

    @Test
    void buffersOfDifferentLengthsAreRefused() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<RingAllReduce> ring = ring(2, pool);
        Future<?> other = pool.submit(() -> ring.get(1).sum(new float[10]));
        Throwable mine = org.assertj.core.api.Assertions.catchThrowable(() -> ring.get(0).sum(new float[12]));
        Throwable theirs = org.assertj.core.api.Assertions.catchThrowable(other::get);
        ring.forEach(RingAllReduce::close);
        // the first to see the other's chunk length names the disagreement; the other sees the connection close
        assertThat(mine).isNotNull();
        assertThat(theirs).isNotNull();
        assertThat(String.valueOf(mine.getMessage()) + theirs.getMessage()).contains("disagree");
        pool.shutdownNow();
    }
}
