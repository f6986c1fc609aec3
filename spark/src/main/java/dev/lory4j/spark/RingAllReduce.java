package dev.lory4j.spark;

import dev.lory4j.moe.train.DataParallel;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Ring all-reduce over TCP sockets between the replicas of a data-parallel run (the bandwidth-optimal pattern of
 * Baidu's ring all-reduce and Horovod): replica r sends to r + 1 and receives from r − 1. A sum of n floats is cut
 * into W chunks; W − 1 reduce-scatter steps leave each replica with one fully summed chunk, W − 1 all-gather steps
 * copy those chunks to everyone. Every replica sends 2 (W − 1) / W · 4n bytes per sum, whatever W is.
 *
 * <p>The reduction order is fixed (chunk c is summed in ring order starting after replica c), so reruns give the
 * same bits, and the all-gather copies bits, so every replica ends with the same buffer. A peer that dies closes its
 * sockets (the neighbours fail at once); a silent one times out after {@code timeoutMillis}.
 */
public final class RingAllReduce implements DataParallel.AllReduce, AutoCloseable {
    private final int rank;
    private final int size;
    private final Socket next;
    private final Socket prev;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final ExecutorService sender;
    private long bytesSent;
    private long nanos;
    private long calls;

    private RingAllReduce(int rank, int size, Socket next, Socket prev) throws IOException {
        this.rank = rank;
        this.size = size;
        this.next = next;
        this.prev = prev;
        this.out = next == null ? null : new DataOutputStream(new BufferedOutputStream(next.getOutputStream(), 1 << 16));
        this.in = prev == null ? null : new DataInputStream(new BufferedInputStream(prev.getInputStream(), 1 << 16));
        this.sender = size == 1 ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "lory4j-allreduce-send-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    /** A server socket on {@code host} (any free port) for this replica's incoming ring connection. */
    public static ServerSocket listen(InetAddress host) throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(host, 0));
        return s;
    }

    /**
     * Joins the ring: {@code addresses.get(i)} is replica i's "host:port" (its {@link #listen} socket; this replica's
     * is {@code server}). Connects to the next replica, accepts the previous one, and checks both ranks.
     */
    public static RingAllReduce connect(int rank, List<String> addresses, ServerSocket server, int timeoutMillis)
            throws IOException {
        int size = addresses.size();
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("RingAllReduce.connect: rank " + rank + " of " + size + " addresses");
        }
        if (size == 1) {
            server.close();
            return new RingAllReduce(0, 1, null, null);
        }
        String to = addresses.get((rank + 1) % size);
        int colon = to.lastIndexOf(':');
        InetSocketAddress target = new InetSocketAddress(to.substring(0, colon), Integer.parseInt(to.substring(colon + 1)));
        Socket next = new Socket();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            try {
                next.connect(target, timeoutMillis);
                break;
            } catch (IOException e) {
                next.close();
                if (System.nanoTime() > deadline) {
                    throw new IOException("all-reduce: replica " + rank + " cannot reach replica " + (rank + 1) % size
                            + " at " + to + ": " + e.getMessage(), e);
                }
                next = new Socket();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("all-reduce: interrupted while connecting", ie);
                }
            }
        }
        Socket prev;
        server.setSoTimeout(timeoutMillis);
        try {
            prev = server.accept();
        } catch (SocketTimeoutException e) {
            next.close();
            throw new IOException("all-reduce: replica " + rank + " waited " + timeoutMillis + " ms for replica "
                    + (rank + size - 1) % size + " to connect to " + addresses.get(rank), e);
        } finally {
            server.close();
        }
        for (Socket s : new Socket[] {next, prev}) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(timeoutMillis);
            s.setSendBufferSize(1 << 20);
            s.setReceiveBufferSize(1 << 20);
        }
        RingAllReduce ring = new RingAllReduce(rank, size, next, prev);
        try {
            ring.out.writeInt(rank);
            ring.out.writeInt(size);
            ring.out.flush();
            int from = ring.in.readInt();
            int theirSize = ring.in.readInt();
            if (from != (rank + size - 1) % size || theirSize != size) {
                throw new IOException("all-reduce: replica " + rank + " of " + size + " was joined by replica " + from
                        + " of " + theirSize + " (expected " + (rank + size - 1) % size + ")");
            }
        } catch (IOException e) {
            ring.close();
            throw e;
        }
        return ring;
    }

    /**
     * Joins the ring of the barrier stage {@code ctx} belongs to: listens on this task's executor host, exchanges
     * "host:port" with every task through {@link org.apache.spark.BarrierTaskContext#allGather}, and connects.
     * Every task of the stage must call it.
     */
    public static RingAllReduce join(org.apache.spark.BarrierTaskContext ctx, int timeoutMillis) throws IOException {
        int rank = ctx.partitionId();
        String address = ctx.getTaskInfos()[rank].address();
        String host = address.contains(":") ? address.substring(0, address.lastIndexOf(':')) : address;
        ServerSocket server = listen(InetAddress.getByName(host));
        List<String> peers = List.of(ctx.allGather(host + ":" + server.getLocalPort()));
        return connect(rank, peers, server, timeoutMillis);
    }

    /** This replica's rank. */
    public int rank() {
        return rank;
    }

    /** Replicas in the ring. */
    public int size() {
        return size;
    }

    /** Bytes this replica has sent in sums so far. */
    public long bytesSent() {
        return bytesSent;
    }

    /** Seconds this replica has spent in sums so far. */
    public double seconds() {
        return nanos / 1e9;
    }

    /** Sums so far. */
    public long calls() {
        return calls;
    }

    @Override
    public void sum(float[] buf) {
        calls++;
        if (size == 1) {
            return;
        }
        long t0 = System.nanoTime();
        int n = buf.length;
        float[] recv = new float[(n + size - 1) / size + 1];
        ByteBuffer rbytes = ByteBuffer.allocate(recv.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        try {
            // reduce-scatter: at step s send chunk (r - s), receive chunk (r - s - 1) and add it in
            for (int s = 0; s < size - 1; s++) {
                int sendChunk = Math.floorMod(rank - s, size);
                int recvChunk = Math.floorMod(rank - s - 1, size);
                Future<?> f = send(buf, start(sendChunk, n), end(sendChunk, n));
                int a = start(recvChunk, n);
                int len = end(recvChunk, n) - a;
                receive(rbytes, recv, len);
                for (int i = 0; i < len; i++) {
                    buf[a + i] = recv[i] + buf[a + i];
                }
                await(f);
            }
            // all-gather: at step s send chunk (r + 1 - s), receive chunk (r - s) and keep it
            for (int s = 0; s < size - 1; s++) {
                int sendChunk = Math.floorMod(rank + 1 - s, size);
                int recvChunk = Math.floorMod(rank - s, size);
                Future<?> f = send(buf, start(sendChunk, n), end(sendChunk, n));
                int a = start(recvChunk, n);
                int len = end(recvChunk, n) - a;
                receive(rbytes, recv, len);
                System.arraycopy(recv, 0, buf, a, len);
                await(f);
            }
        } catch (IOException e) {
            close();
            throw new UncheckedIOException("all-reduce: replica " + rank + " of " + size + " failed in sum " + calls
                    + " of " + n + " floats: " + (e instanceof java.io.EOFException ? "the previous replica closed "
                    + "its connection" : e.toString()), e);
        }
        nanos += System.nanoTime() - t0;
    }

    private int start(int chunk, int n) {
        return (int) ((long) n * chunk / size);
    }

    private int end(int chunk, int n) {
        return (int) ((long) n * (chunk + 1) / size);
    }

    private Future<?> send(float[] buf, int from, int to) {
        int len = to - from;
        ByteBuffer b = ByteBuffer.allocate(len * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(buf, from, len);
        bytesSent += 4L + len * 4L;
        return sender.submit(() -> {
            out.writeInt(len);
            out.write(b.array(), 0, len * 4);
            out.flush();
            return null;
        });
    }

    private void receive(ByteBuffer bytes, float[] into, int len) throws IOException {
        int got = in.readInt();
        if (got != len) {
            throw new IOException("expected a chunk of " + len + " floats from replica " + Math.floorMod(rank - 1, size)
                    + ", got " + got + " (the replicas disagree on the buffer)");
        }
        in.readFully(bytes.array(), 0, len * 4);
        bytes.clear();
        bytes.asFloatBuffer().get(into, 0, len);
    }

    private static void await(Future<?> f) throws IOException {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
    }

    @Override
    public void close() {
        if (sender != null) {
            sender.shutdownNow();
        }
        for (Socket s : new Socket[] {next, prev}) {
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing: nothing more to do
                }
            }
        }
    }
}
