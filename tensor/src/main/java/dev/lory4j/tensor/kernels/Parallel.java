package dev.lory4j.tensor.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The thread pool that lory4j's CPU kernels share.
 *
 * <p><b>Why not a ForkJoinPool.</b> Kernels hand out a few coarse tasks many thousand times per training
 * step; a fork/join round trip per call was measured slower than one thread for a 256³ GEMM on a 2-core
 * machine. Here {@code threads() - 1} daemon workers are created lazily on first use. After finishing a job
 * a worker spins (busy-waits) for a short while ({@code lory4j.spinMicros}, default 200 µs) so that the next
 * call starts without an OS wake-up, then parks until the next job is posted.
 *
 * <p><b>Concurrency.</b> One job runs on the pool at a time. A call that finds the pool busy (another user
 * thread owns it) does not wait: it runs its tasks sequentially in its own thread. This keeps concurrent
 * callers deadlock-free and lets each of them use at least one core; the alternative, queuing behind the
 * running job, would leave a core idle while waiting. Nested calls (from inside a task) also run
 * sequentially in the calling thread.
 */
public final class Parallel {

    private static final int DEFAULT_THREADS = readThreads();
    private static final long SPIN_NANOS = 1000L * Integer.getInteger("lory4j.spinMicros", 200);

    /** Test hook: a thread count that overrides the property while {@link #withThreads} runs (0 = none). */
    private static volatile int threadsOverride;

    private static final AtomicReference<Thread> OWNER = new AtomicReference<>();
    private static volatile Job current;
    private static volatile Worker[] workers = new Worker[0];

    private Parallel() {
    }

    /** Number of worker threads kernels use: system property lory4j.threads, default Runtime.availableProcessors(). */
    public static int threads() {
        int t = threadsOverride;
        return t > 0 ? t : DEFAULT_THREADS;
    }

    /** Runs body.accept(t) for t in [0, tasks) on the kernel threads (the caller thread takes part); returns when all are done. */
    public static void parallelFor(int tasks, IntConsumer body) {
        if (tasks < 0) {
            throw new IllegalArgumentException("parallelFor: tasks " + tasks + " < 0");
        }
        int threads = Math.min(threads(), tasks);
        Thread me = Thread.currentThread();
        if (threads <= 1 || me instanceof Worker || OWNER.get() == me || !OWNER.compareAndSet(null, me)) {
            runSequentially(tasks, body);
            return;
        }
        try {
            runOnPool(tasks, body, threads - 1);
        } finally {
            OWNER.set(null);
        }
    }

    /** Runs {@code action} with {@link #threads()} forced to {@code n} (tests use it to compare thread counts). */
    static void withThreads(int n, Runnable action) {
        if (n < 1) {
            throw new IllegalArgumentException("withThreads: n " + n + " < 1");
        }
        int saved = threadsOverride;
        threadsOverride = n;
        try {
            action.run();
        } finally {
            threadsOverride = saved;
        }
    }

    private static void runSequentially(int tasks, IntConsumer body) {
        for (int t = 0; t < tasks; t++) {
            body.accept(t);
        }
    }

    /** Posts a job for {@code helpers} workers, takes part in it, and waits for every task to finish. */
    private static void runOnPool(int tasks, IntConsumer body, int helpers) {
        Worker[] ws = ensureWorkers(helpers);
        Job job = new Job(body, tasks, helpers);
        current = job;
        for (int i = 0; i < helpers; i++) {
            if (ws[i].sleeping) {
                LockSupport.unpark(ws[i]);
            }
        }
        job.help();
        job.awaitDone();
        current = null;
        job.rethrow();
    }

    /** Creates workers up to {@code count}; called only by the pool owner, so no race on growth. */
    private static Worker[] ensureWorkers(int count) {
        Worker[] ws = workers;
        if (ws.length >= count) {
            return ws;
        }
        Worker[] grown = java.util.Arrays.copyOf(ws, count);
        for (int i = ws.length; i < count; i++) {
            grown[i] = new Worker(i);
            grown[i].start();
        }
        workers = grown;
        return grown;
    }

    private static int readThreads() {
        int n = Integer.getInteger("lory4j.threads", Runtime.getRuntime().availableProcessors());
        return Math.max(1, n);
    }

    /** One parallelFor call: tasks are handed out through an atomic counter. */
    private static final class Job {
        final IntConsumer body;
        final int tasks;
        final int helpers;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(IntConsumer body, int tasks, int helpers) {
            this.body = body;
            this.tasks = tasks;
            this.helpers = helpers;
        }

        /** Takes tasks until none are left; after a failure the remaining ones are taken but skipped. */
        void help() {
            int finished = 0;
            int t;
            while ((t = next.getAndIncrement()) < tasks) {
                if (failure == null) {
                    try {
                        body.accept(t);
                    } catch (Throwable e) {
                        failure = e;
                    }
                }
                finished++;
            }
            if (finished > 0) {
                done.addAndGet(finished);
            }
        }

        /** Spins until every task has finished (the caller has taken part, so all have been handed out). */
        void awaitDone() {
            int spins = 0;
            while (done.get() < tasks) {
                if (++spins < 1 << 14) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }

        void rethrow() {
            Throwable e = failure;
            if (e instanceof RuntimeException re) {
                throw re;
            }
            if (e instanceof Error err) {
                throw err;
            }
            if (e != null) {
                throw new RuntimeException(e);
            }
        }
    }

    /** A daemon thread that helps with posted jobs, spinning briefly between them, then parking. */
    private static final class Worker extends Thread {
        final int index;
        volatile boolean sleeping;

        Worker(int index) {
            super("lory4j-kernel-" + (index + 1));
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            Job seen = null;
            while (true) {
                Job job = awaitNewJob(seen);
                seen = job;
                if (index < job.helpers) {
                    job.help();
                }
            }
        }

        /** Spins for up to SPIN_NANOS, then parks, until a job other than {@code seen} is posted. */
        private Job awaitNewJob(Job seen) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            int spins = 0;
            while (true) {
                Job job = current;
                if (job != null && job != seen) {
                    return job;
                }
                if ((++spins & 63) != 0 || System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                sleeping = true;
                job = current;
                if (job == null || job == seen) {
                    LockSupport.park(this);
                }
                sleeping = false;
                spinUntil = System.nanoTime() + SPIN_NANOS;
            }
        }
    }
}
