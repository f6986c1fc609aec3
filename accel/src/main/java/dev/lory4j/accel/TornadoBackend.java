package dev.lory4j.accel;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Storage;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.spi.Backend;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * The TornadoVM backend (issue #7). On the TornadoVM device: matrix products, plain and batched (a local-memory
 * kernel with 4 x 4 register tiles), same-shape add/sub/mul, exp, SiLU, reductions over the last axis, softmax over
 * the last axis, the causal softmax, the softmax backward, RMSNorm, LayerNorm and the AdamW update, each with one
 * compiled execution plan per (op, shape); the linear layers' products and gradients ({@link LinearPlan}); and whole
 * captured steps compiled into one plan each ({@link GraphPlan}, {@link TornadoGraphCompiler}: every model kind's
 * training step with its clipping and AdamW update, evaluation and generation passes). Those are {@link ParamPlan}s:
 * each weight they use stays on the device with its gradient and AdamW moments across steps. Values newer on the
 * device are marked so ({@link Storage#deviceNewer}) and come back only when the host reads them (a checkpoint, an
 * evaluation on the CPU). Other ops copy their operands in and the result out on every call, so an op is offloaded
 * only when its work per byte copied reaches a threshold ({@link #DEFAULT_MIN_FLOPS_PER_BYTE}). Broadcasting,
 * reductions over other axes and the rest are delegated to the CPU backend. Available when a GPU device exists, or
 * on any device when {@code -Dlory4j.backend=tornado} asks for it explicitly (on a CPU-only OpenCL device our
 * Vector-API kernels are faster, so it is not chosen by default there).
 */
public final class TornadoBackend implements Backend {
    static {
        // TornadoVM compiles each task graph to bytecode in a buffer of -Dtornado.tvm.maxbytecodesize bytes (4096 by
        // default, read once when its graph compiler loads, which is after this class). A compiled step's graphs of
        // 24 tasks over all of a plan's buffers need more; a buffer too small fails the graph with a bail-out that
        // names no cause. A value the user set is kept.
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) {
            System.setProperty("tornado.tvm.maxbytecodesize", "32768");
        }
    }

    private final CpuBackend cpu = new CpuBackend();
    private final double minFlopsPerByte;
    private final double minFlops;
    private final int paramPlanLimit;

    /**
     * Creates the backend (the TornadoVM runtime starts on first use) with the offload threshold of
     * {@code -Dlory4j.tornado.minFlopsPerByte}, default {@link #DEFAULT_MIN_FLOPS_PER_BYTE}.
     */
    public TornadoBackend() {
        this(Double.parseDouble(System.getProperty("lory4j.tornado.minFlopsPerByte",
                Double.toString(DEFAULT_MIN_FLOPS_PER_BYTE))),
                Double.parseDouble(System.getProperty("lory4j.tornado.minFlops", Double.toString(DEFAULT_MIN_FLOPS))));
    }

    /**
     * Creates the backend with an explicit threshold: an op runs on the device only when its floating-point
     * operations per byte copied to and from the device reach {@code minFlopsPerByte} (0: every supported op).
     */
    public TornadoBackend(double minFlopsPerByte) {
        this(minFlopsPerByte, 0);
    }

    /**
     * Creates the backend with explicit thresholds: an op runs on the device only when its floating-point
     * operations per byte copied reach {@code minFlopsPerByte} and its operations reach {@code minFlops}.
     */
    public TornadoBackend(double minFlopsPerByte, double minFlops) {
        this(minFlopsPerByte, minFlops, 0);
    }

    /**
     * As {@link #TornadoBackend(double, double)}, keeping at most {@code paramPlanLimit} plans of each kind that hold
     * parameters (0: the defaults of the {@code -Dlory4j.tornado.*Plans} properties); for tests of eviction.
     */
    TornadoBackend(double minFlopsPerByte, double minFlops, int paramPlanLimit) {
        if (!(minFlopsPerByte >= 0) || !(minFlops >= 0)) {
            throw new IllegalArgumentException("TornadoBackend: minFlopsPerByte and minFlops must be >= 0, got "
                    + minFlopsPerByte + " and " + minFlops);
        }
        this.minFlopsPerByte = minFlopsPerByte;
        this.minFlops = minFlops;
        this.paramPlanLimit = paramPlanLimit;
    }

    /** The bound of a cache of parameter plans: {@code byDefault} unless a limit was given. */
    private int paramPlans(int byDefault) {
        return paramPlanLimit > 0 ? paramPlanLimit : byDefault;
    }

    /**
     * The default least work of an offloaded op ({@code -Dlory4j.tornado.minFlops}): every execution of a plan
     * costs a kernel launch and a wait of some tens of microseconds whatever it copies, in which our CPU kernels do
     * a few million operations; below that the CPU answers first. Products with a resident parameter copy little,
     * so without this floor a one-row product (generation) would pay the latency for a few hundred kiloflops.
     */
    public static final double DEFAULT_MIN_FLOPS = 4e6;

    /**
     * The default offload threshold. Every call copies its operands in and its result out, so offloading pays only
     * when the work per byte copied exceeds what the CPU does in the time of the copy: PCIe moves about 25 GB/s
     * and our GEMM runs at about 400 GFLOP/s on a 16-core server, so 16 flops per byte. Matrix products of a
     * decoder layer qualify (2mnk flops on 4(mk + kn + mn) bytes); elementwise ops, softmax, norms and AdamW (a
     * few flops per 8-12 bytes) stay on the CPU unless the threshold is lowered.
     */
    public static final double DEFAULT_MIN_FLOPS_PER_BYTE = 16;

    /** Whether an op of {@code flops} operations moving {@code floats} floats to and from the device offloads. */
    private boolean offloads(double flops, double floats) {
        return flops >= minFlops && flops >= minFlopsPerByte * 4 * floats;
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public int priority() {
        return 10;
    }

    @Override
    public boolean isAvailable() {
        boolean asked = "tornado".equalsIgnoreCase(System.getProperty("lory4j.backend", "").strip());
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        int devices = 0;
        for (int b = 0; b < rt.getNumBackends(); b++) {
            uk.ac.manchester.tornado.api.TornadoBackend backend = rt.getBackend(b);
            for (int d = 0; d < backend.getNumDevices(); d++) {
                devices++;
                if (backend.getDevice(d).getDeviceType() == TornadoDeviceType.GPU) {
                    return true;
                }
            }
        }
        return asked && devices > 0;
    }

    @Override
    public String deviceName() {
        var device = TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
        return device.getPhysicalDevice().getDeviceName().strip() + " (" + device.getPlatformName().strip() + ")";
    }

    /** A compiled task graph for one (op, shape) with the host arrays it is bound to. */
    private record DevicePlan(float[][] inputs, float[] output, TornadoExecutionPlan plan) {}

    /** Adds the op's task to a graph whose inputs and output arrays are already chosen. */
    @FunctionalInterface
    interface Task {
        TaskGraph add(TaskGraph graph, float[][] in, float[] out);
    }

    /** Cached plans at most ({@code -Dlory4j.tornado.plans}, default 128). */
    private static final int MAX_PLANS = Integer.getInteger("lory4j.tornado.plans", 128);

    /**
     * Execution plans by (op, shape), least recently used evicted (and closed) past {@link #MAX_PLANS}:
     * TornadoVM compiles a plan for the host arrays and scalar sizes it was built with, so each plan owns its
     * arrays and every call copies its inputs into them.
     */
    private final Map<String, DevicePlan> plans = lru(MAX_PLANS, DevicePlan::plan);

    /**
     * A map in access order that closes the plan of its least recently used entry once it holds more than
     * {@code max} (TornadoVM keeps device memory for every open plan).
     */
    private static <K, V> Map<K, V> lru(int max, java.util.function.Function<V, TornadoExecutionPlan> planOf) {
        return lruClosing(() -> max, v -> closePlan(planOf.apply(v)));
    }

    /** {@link #lru} with the eviction given: {@code close} releases an evicted entry; the bound is read at each put. */
    private static <K, V> Map<K, V> lruClosing(java.util.function.IntSupplier max, java.util.function.Consumer<V> close) {
        return new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                if (size() > max.getAsInt()) {
                    close.accept(eldest.getValue());
                    return true;
                }
                return false;
            }
        };
    }

    /** Work-group size of the 1-D kernels. */
    static final int LOCAL_1D = 128;

    /**
     * Runs {@code task} on the device for these inputs, compiling its plan on first use of (key, shapes). The grid
     * is explicit, never TornadoVM's default (which picked 1024-item work groups on an H100, too many for the
     * registers some kernels need: CL_OUT_OF_RESOURCES): {@code {items}} for a 1-D {@code KernelContext} kernel
     * that checks its bound (items rounded up to work groups of {@link #LOCAL_1D}), or the three global sizes of a
     * {@code KernelContext} task with WG x WG x 1 work groups (x and y multiples of {@link TornadoKernels#WG}).
     */
    private Tensor offload(String key, int[] outShape, Task task, int[] grid, Tensor... inputs) {
        synchronized (plans) {
            DevicePlan p = plans.get(key);
            if (p == null) {
                float[][] in = new float[inputs.length][];
                for (int i = 0; i < inputs.length; i++) {
                    in[i] = new float[inputs[i].numel()];
                }
                float[] out = new float[dev.lory4j.tensor.Shapes.numel(outShape)];
                String name = key.replaceAll("[^A-Za-z0-9]", "_");
                TaskGraph g = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, (Object[]) in);
                g = task.add(g, in, out).transferToHost(DataTransferMode.EVERY_EXECUTION, out);
                TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot());
                plan.withGridScheduler(new GridScheduler(name + ".t", workers(grid)));
                p = new DevicePlan(in, out, plan);
                plans.put(key, p);
                if (Boolean.getBoolean("lory4j.tornado.verbose")) {
                    System.err.println("lory4j tornado: plan " + plans.size() + " compiled for " + key);
                }
            }
            for (int i = 0; i < inputs.length; i++) {
                copyInto(inputs[i], p.inputs()[i]);
                copiedFloats += p.inputs()[i].length;
            }
            copiedFloats += p.output().length;
            try {
                p.plan().execute();
            } catch (RuntimeException e) {
                throw new IllegalStateException("tornado " + key + " failed on " + deviceName() + ": "
                        + e.getMessage(), e);
            }
            return Tensor.wrap(p.output().clone(), outShape);
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() > 2 && b.rank() == 2 && a.dim(-1) == b.dim(0) && a.numel() > 0) {
            // x [..., k] . W [k, n]: one 2-D product over all leading rows (every Linear layer).
            int[] shape = a.shape();
            shape[shape.length - 1] = b.dim(1);
            return matmul(a.reshape(-1, a.dim(-1)), b).reshape(shape);
        }
        int rank = a.rank();
        boolean sameBatch = rank >= 2 && b.rank() == rank
                && java.util.Arrays.equals(a.shape(), 0, rank - 2, b.shape(), 0, rank - 2);
        if (!sameBatch || a.dim(-1) != b.dim(-2) || a.numel() == 0 || b.numel() == 0) {
            return cpu.matmul(a, b); // broadcast batches, 1-D, empty and mismatched shapes (with its errors)
        }
        int m = a.dim(-2);
        int k = a.dim(-1);
        int n = b.dim(-1);
        int batch = a.numel() / (m * k);
        int[] outShape = a.shape();
        outShape[rank - 1] = n;
        if (RESIDENT && rank == 2 && residentOperand(b)) {
            // b is a whole model parameter (W or Wᵀ): kept on the device, so only a and c are copied
            if (!offloads(2.0 * m * n * k, (double) m * k + (double) m * n)) {
                return cpu.matmul(a, b);
            }
            return residentMatmul(a, b);
        }
        if (!offloads(2.0 * batch * m * n * k, (double) batch * (m * k + k * n + m * n))) {
            return cpu.matmul(a, b);
        }
        Tensor ua = untransposed(a);
        Tensor ub = untransposed(b);
        boolean ta = ua != null;
        boolean tb = ub != null;
        Tensor sa = ta ? ua : a;
        Tensor sb = tb ? ub : b;
        String key = "matmul " + batch + "*" + m + "x" + n + "x" + k + (ta ? " aT" : "") + (tb ? " bT" : "");
        return offload(key, outShape, matmulTask(m, n, k, ta, tb), matmulGrid(batch, m, n), sa, sb);
    }

    /**
     * The contiguous tensor whose transpose (last two axes) t is, or null: a weight used as Wᵀ or an activation
     * as xᵀ is copied to the device as it lies and read transposed by the kernel, with no transposed host copy.
     */
    private static Tensor untransposed(Tensor t) {
        if (t.isContiguous() || t.rank() < 2) {
            return null;
        }
        Tensor u = t.transpose(-1, -2);
        return u.isContiguous() ? u : null;
    }

    /** Whether t is a whole resident buffer viewed as a matrix, plain or transposed (a model parameter). */
    private static boolean residentOperand(Tensor t) {
        if (!t.storage().isResident() || t.rank() != 2) {
            return false;
        }
        Tensor u = t.isContiguous() ? t : untransposed(t);
        return u != null && u.offset() == 0 && u.numel() == t.storage().size();
    }

    /** Cached resident-parameter plans at most ({@code -Dlory4j.tornado.residentPlans}, default 256). */
    private static final int MAX_RESIDENT_PLANS = Integer.getInteger("lory4j.tornado.residentPlans", 256);

    /** A parameter W [r, c] (its array) and the rows m of the activations multiplied by it. */
    private record ResidentKey(float[] w, int r, int c, int m) {}

    /** The {@link LinearPlan}s by parameter and rows; an evicted plan first brings what it holds to the host. */
    private final Map<ResidentKey, LinearPlan> residentPlans =
            lruClosing(() -> paramPlans(MAX_RESIDENT_PLANS), this::flushAndClose);

    /** The gradients handed out by the parameter plans that still live on the device, by storage. */
    private final Map<Storage, ParamPlan.Param> deviceGrads = new java.util.IdentityHashMap<>();

    private int residentPlanIds;
    private long residentUploads;
    private long copiedFloats; // floats copied to and from the device, guarded by plans

    /**
     * Whether data may stay on the device ({@code -Dlory4j.tornado.resident}, default true): resident parameters
     * with their gradients and optimizer moments, and the fused plans (merged products, SwiGLU, attention) whose
     * intermediates never leave it; false copies every op's operands and result, for comparison.
     */
    private static final boolean RESIDENT = Boolean.parseBoolean(System.getProperty("lory4j.tornado.resident", "true"));

    /** The plan of parameter {@code w} [r, c] for m rows, its device buffers made current. Holds the lock. */
    private LinearPlan linearPlan(Storage w, int r, int c, int m) {
        return cached(residentPlans, new ResidentKey(w.unsynced(), r, c, m),
                id -> new LinearPlan("resident" + id, w, r, c, m),
                () -> "resident plan for a parameter [" + r + ", " + c + "] and " + m + " rows");
    }

    /**
     * The parameter plan of {@code key} in {@code cache}, built by {@code make} (given a fresh id) on first use, with
     * its device copies made current; {@code what} describes a new plan for {@code -Dlory4j.tornado.verbose}.
     * Holds the lock.
     */
    private <K, P extends ParamPlan> P cached(Map<K, P> cache, K key, java.util.function.IntFunction<P> make,
                                             java.util.function.Supplier<String> what) {
        P p = cache.get(key);
        if (p == null) {
            p = make.apply(residentPlanIds++);
            cache.put(key, p);
            if (Boolean.getBoolean("lory4j.tornado.verbose")) {
                System.err.println("lory4j tornado: " + what.get());
            }
        }
        current(p);
        return p;
    }

    /**
     * Makes a parameter plan's device copies current: copies in each weight the host changed since it was copied
     * (versions differ; every weight on the plan's first run), and the bound optimizer moments where the host
     * changed them. Gradients are never copied in (they are only written on the device). Holds the lock.
     */
    private void current(ParamPlan plan) {
        boolean[] stale = new boolean[plan.params.length];
        boolean any = false;
        for (ParamPlan.Param p : plan.params) {
            stale[p.index] = !plan.ran() || p.weight.version() != p.heldW;
            any |= stale[p.index];
        }
        try {
            if (any) { // every weight is stale before the plan's first run
                for (ParamPlan.Param p : plan.params) {
                    if (stale[p.index]) {
                        p.weight.peek(); // W's host array is the plan's: made current where a device holds newer
                    }
                }
                plan.uploadWeights(stale);
                for (ParamPlan.Param p : plan.params) {
                    if (stale[p.index]) {
                        p.heldW = p.weight.version();
                        residentUploads++;
                        copiedFloats += p.size();
                    }
                }
            }
            for (ParamPlan.Param p : plan.params) {
                if (p.moment1 != null && (p.moment1.version() != p.heldM1 || p.moment2.version() != p.heldM2)) {
                    float[] m1 = p.moment1.peek();
                    float[] m2 = p.moment2.peek();
                    if (!(p.zeroMoments && allZero(m1) && allZero(m2))) { // fresh moments: the device has them
                        System.arraycopy(m1, 0, p.mom1, 0, p.size());
                        System.arraycopy(m2, 0, p.mom2, 0, p.size());
                        plan.uploadMoments(p.index);
                        copiedFloats += 2L * p.size();
                    }
                    p.heldM1 = p.moment1.version();
                    p.heldM2 = p.moment2.version();
                }
            }
        } catch (RuntimeException e) {
            throw new IllegalStateException("tornado: copying parameters of " + plan.id + " to " + deviceName()
                    + " failed: " + e.getMessage(), e);
        }
    }

    /** Whether every element is 0 (optimizer moments before the first step). */
    private static boolean allZero(float[] a) {
        for (float f : a) {
            if (f != 0f) {
                return false;
            }
        }
        return true;
    }

    /** Brings every buffer of the plan newer than the host to the host, then closes the plan. */
    private void flushAndClose(ParamPlan plan) {
        flush(plan);
        plan.close();
    }

    /** Brings every buffer of the plan newer than the host (weights, moments, gradients) to the host. */
    private void flush(ParamPlan plan) {
        for (ParamPlan.Param p : plan.params) {
            p.weight.peek();
            if (p.moment1 != null) {
                p.moment1.peek();
                p.moment2.peek();
            }
            settle(p);
        }
    }

    /**
     * Before a graph overwrites G on the device: a gradient still handed out from it goes to the host (a caller
     * may hold it, e.g. to accumulate), and no longer counts as living on the device.
     */
    private void settle(ParamPlan.Param p) {
        if (p.grad != null) {
            p.grad.peek();
            deviceGrads.remove(p.grad);
            p.grad = null;
        }
    }

    /** Runs compute graph {@code graph} of a plan, which writes the G of every parameter (settled first). */
    private void runGrads(ParamPlan p, int graph) {
        for (ParamPlan.Param w : p.params) {
            settle(w);
        }
        p.run(p.compute(graph));
    }

    /**
     * Hands out the gradient the plan just computed into G as a tensor of {@code shape} whose values stay on the
     * device until the host reads them ({@link Storage#deviceNewer}).
     */
    private Tensor handOut(ParamPlan.Param p, int... shape) {
        Storage g = new Storage(new float[p.size()]);
        g.deviceNewer(gradPull(p));
        p.grad = g;
        p.gradVersion = g.version();
        deviceGrads.put(g, p);
        return Tensor.of(g, shape, Shapes.contiguousStrides(shape), 0);
    }

    /** a [m, k] · b with b a resident parameter W or Wᵀ: the parameter's device copy is made only when stale. */
    private Tensor residentMatmul(Tensor a, Tensor b) {
        Tensor ub = untransposed(b);
        boolean transposed = ub != null;
        Tensor w = transposed ? ub : b;
        int r = w.dim(0);
        int c = w.dim(1);
        int m = a.dim(0);
        synchronized (plans) {
            LinearPlan p = linearPlan(w.storage(), r, c, m);
            copyInto(a, transposed ? p.aT : p.aN);
            copiedFloats += (long) m * (r + c);
            try {
                p.run(p.compute(transposed ? LinearPlan.TIMES_WT : LinearPlan.TIMES_W));
            } catch (RuntimeException e) {
                throw new IllegalStateException("tornado matmul " + m + "x" + (transposed ? r : c) + "x"
                        + (transposed ? c : r) + " with resident " + (transposed ? "Wᵀ" : "W") + " [" + r + ", " + c
                        + "] failed on " + deviceName() + ": " + e.getMessage(), e);
            }
            return Tensor.wrap((transposed ? p.cT : p.cN).clone(), m, transposed ? r : c);
        }
    }

    /**
     * dx = dy · W and dW = dyᵀ · x in one graph of W's plan: dW stays on the device (its host array is filled only
     * if the host reads it), where clipping ({@link #sumOfSquares}, {@link #scaled}) and {@link #adamw} use it.
     */
    Tensor[] linearGrads(Tensor x, Tensor dy, Tensor w) {
        if (!RESIDENT || x.rank() != 2 || dy.rank() != 2 || w.rank() != 2 || !wholeResident(w)
                || x.dim(0) != dy.dim(0) || x.dim(1) != w.dim(1) || dy.dim(1) != w.dim(0)
                || !offloads(4.0 * x.dim(0) * w.dim(0) * w.dim(1), 2.0 * x.numel() + dy.numel())) {
            return null; // not on the device: the caller takes the reference
        }
        int r = w.dim(0);
        int c = w.dim(1);
        int m = x.dim(0);
        synchronized (plans) {
            LinearPlan p = linearPlan(w.storage(), r, c, m);
            copyInto(dy, p.dy);
            copyInto(x, p.x);
            copiedFloats += (long) m * (r + 2L * c);
            try {
                runGrads(p, LinearPlan.BACKWARD);
            } catch (RuntimeException e) {
                throw new IllegalStateException("tornado linearGrads x [" + m + ", " + c + "], W [" + r + ", " + c
                        + "] failed on " + deviceName() + ": " + e.getMessage(), e);
            }
            return new Tensor[] {Tensor.wrap(p.dx.clone(), m, c), handOut(p.params[0], r, c)};
        }
    }

    /** Fills a gradient's host array from the plan's device gradient. */
    private java.util.function.Consumer<float[]> gradPull(ParamPlan.Param p) {
        return array -> pullInto(p.plan, p.g, array);
    }

    /** The parameter whose device gradient t is (current, whole), or null. Holds the lock. */
    private ParamPlan.Param deviceGrad(Tensor t) {
        ParamPlan.Param p = deviceGrads.get(t.storage());
        return p != null && p.grad == t.storage() && t.storage().isDeviceNewer()
                && t.storage().version() == p.gradVersion && t.isContiguous() && t.offset() == 0
                && t.numel() == t.storage().size() ? p : null;
    }

    /** Σ t² of one tensor: in its plan when t is a gradient still on the device, else on the CPU. */
    double sumOfSquares(Tensor t) {
        synchronized (plans) {
            ParamPlan.Param p = deviceGrad(t);
            if (p != null) {
                copiedFloats += ParamPlan.NORM_CHUNKS;
                return p.plan.sumOfSquares(p.index);
            }
        }
        return Backend.super.sumOfSquares(List.of(t));
    }

    /** t · s: in place in its plan when t is a gradient still on the device (returns t), else a new tensor. */
    Tensor scaled(Tensor t, float s) {
        synchronized (plans) {
            ParamPlan.Param p = deviceGrad(t);
            if (p != null) {
                p.plan.scale[0] = s;
                p.plan.run(p.plan.scale(p.index));
                copiedFloats += 1;
                t.storage().deviceNewer(gradPull(p)); // still on the device, one version on
                p.gradVersion = t.storage().version();
                return t;
            }
        }
        return t.mul(s);
    }

    @Override
    public void release(Tensor t) {
        synchronized (plans) {
            ParamPlan.Param p = deviceGrad(t);
            if (p != null) {
                deviceGrads.remove(t.storage());
                p.grad = null;
                t.storage().deviceNewer(array -> {
                    throw new IllegalStateException("this gradient " + Shapes.str(t.shape()) + " stayed on the "
                            + "TornadoVM device and was released by zeroGrad(); copy it before zeroGrad() to keep it");
                });
            }
        }
    }

    /** Whether t is the whole of a resident parameter's storage (so a plan can hold it as a weight). */
    private static boolean wholeResident(Tensor t) {
        return t.storage().isResident() && t.isContiguous() && t.offset() == 0 && t.numel() == t.storage().size();
    }

    /** Compiled steps kept at most ({@code -Dlory4j.tornado.graphPlans}, default 4): each holds a whole model. */
    private static final int MAX_GRAPH_PLANS = Integer.getInteger("lory4j.tornado.graphPlans", 4);

    private final Map<GraphPlan.Lowering, GraphPlan> graphPlans = lruClosing(() -> paramPlans(MAX_GRAPH_PLANS),
            this::flushAndClose);

    /**
     * A captured step compiled into one execution plan ({@link GraphPlan}), or null when a node has no device
     * lowering or the parameters are not whole resident buffers (the step then replays op by op).
     */
    dev.lory4j.autograd.capture.GraphCompiler.Step compile(dev.lory4j.autograd.capture.Graph graph,
                                                           List<dev.lory4j.autograd.Var> params) {
        if (!RESIDENT || params.stream().anyMatch(p -> !wholeResident(p.data()))) {
            return null;
        }
        int[] sizes = params.stream().mapToInt(p -> p.data().numel()).toArray();
        GraphPlan.Lowering lowering;
        try {
            lowering = new GraphPlan.Lowering(graph, sizes).lower();
        } catch (GraphPlan.Unsupported e) {
            System.err.println("lory4j tornado: the captured step runs op by op (" + e.getMessage() + ")");
            return null;
        }
        if (Boolean.getBoolean("lory4j.tornado.verbose")) {
            System.err.println("lory4j tornado: compiled a step of " + graph.nodes().size() + " nodes into "
                    + lowering.tasks.size() + " tasks over " + params.size() + " parameters, "
                    + lowering.floats.size() + " float and " + lowering.ints.size() + " integer buffers");
        }
        Storage[] storages = params.stream().map(p -> p.data().storage()).toArray(Storage[]::new);
        return new GraphRun(graph, lowering, storages, params.stream().map(p -> p.data().shape()).toList());
    }

    /** Bytes TornadoVM's profiler counted in and out of the cached compiled steps' graph runs (for tests). */
    long profiledGraphBytes() {
        synchronized (plans) {
            return graphPlans.values().stream().mapToLong(p -> p.profiledBytes).sum();
        }
    }

    /** Tasks of the cached compiled steps, summed (for tests). */
    int graphTaskCount() {
        synchronized (plans) {
            return graphPlans.keySet().stream().mapToInt(l -> l.tasks.size()).sum();
        }
    }

    /** How many compiled steps are cached (for tests). */
    int graphPlanCount() {
        synchronized (plans) {
            return graphPlans.size();
        }
    }

    /** A compiled step over the cached plan of its lowering (built again if it was evicted). */
    private final class GraphRun implements dev.lory4j.autograd.capture.GraphCompiler.Step {
        private final dev.lory4j.autograd.capture.Graph graph;
        private final GraphPlan.Lowering lowering;
        private final Storage[] weights;
        private final List<int[]> shapes;
        /** The lowering that ends with clipping and AdamW, by clipping bound (made at the first such run). */
        private final Map<Double, GraphPlan.Lowering> updating = new HashMap<>();

        GraphRun(dev.lory4j.autograd.capture.Graph graph, GraphPlan.Lowering lowering, Storage[] weights,
                 List<int[]> shapes) {
            this.graph = graph;
            this.lowering = lowering;
            this.weights = weights;
            this.shapes = shapes;
        }

        @Override
        public Map<String, Tensor> run(Map<String, int[]> inputs) {
            synchronized (plans) {
                return execute(lowering, inputs, null);
            }
        }

        @Override
        public Map<String, Tensor> runAndUpdate(Map<String, int[]> inputs,
                                                dev.lory4j.autograd.optim.AdamW.ClippedStep update) {
            synchronized (plans) {
                GraphPlan.Lowering l = updating.get(update.maxNorm());
                if (l == null) {
                    try {
                        l = new GraphPlan.Lowering(graph, lowering.paramSizes(), update.maxNorm()).lower();
                    } catch (GraphPlan.Unsupported e) {
                        return null;
                    }
                    updating.put(update.maxNorm(), l);
                }
                return execute(l, inputs, update);
            }
        }

        /** Runs a lowering's plan (made or taken from the cache) on these inputs; the update's step with it. */
        private Map<String, Tensor> execute(GraphPlan.Lowering l, Map<String, int[]> inputs,
                                            dev.lory4j.autograd.optim.AdamW.ClippedStep update) {
            boolean fresh = !graphPlans.containsKey(l);
            GraphPlan p = cached(graphPlans, l, i -> new GraphPlan("graph" + i, l, weights),
                    () -> "compiled step of " + l.tasks.size() + " tasks");
            try {
                p.setInputs(inputs);
                if (update != null) { // the optimizer's moments: bound to the plan's, copied in where the host changed them
                    for (int i = 0; i < p.params.length; i++) {
                        bindMoments(p.params[i], update.expAvg().get(i).storage(), update.expAvgSq().get(i).storage());
                    }
                    current(p);
                    float[] h = new float[8];
                    fillHyper(h, update.lr(), update.beta1(), update.beta2(), update.eps(), update.weightDecay(),
                            update.bc1(), update.bc2());
                    p.setHyper(h);
                }
                if (fresh) {
                    for (float[] e : p.extra) {
                        copiedFloats += e.length; // the first run copies the constants and buffers in
                    }
                    for (int[] e : p.ints) {
                        copiedFloats += e.length;
                    }
                }
                for (ParamPlan.Param w : p.params) {
                    if (l.gradients) {
                        settle(w); // a gradient still handed out from G goes to the host first
                    }
                }
                p.runStep();
                copiedFloats += p.uploadedInts() + (update != null ? 8 : 0); // the inputs (and index lists) in
                for (int i : l.assigned) { // a state written on the device: newer there
                    ParamPlan.Param w = p.params[i];
                    w.weight.deviceNewer(array -> pullInto(p, w.w, array));
                    w.heldW = w.weight.version();
                }
                Map<String, Tensor> out = new LinkedHashMap<>();
                if (l.loss >= 0) {
                    out.put("loss", Tensor.scalar(p.loss()));
                    copiedFloats++;
                }
                if (update != null) {
                    float[] clip = p.clip(); // [norm, coef]
                    copiedFloats += clip.length;
                    out.put("norm", Tensor.scalar(clip[0]));
                    if (Float.isFinite(out.get("loss").item()) && Float.isFinite(clip[0])) {
                        p.runUpdate(); // clipping and AdamW, in place: the weights and moments are newer there
                        for (int i = 0; i < p.params.length; i++) {
                            stepped(p.params[i], update.expAvg().get(i).storage(), update.expAvgSq().get(i).storage());
                        }
                    }
                }
                for (String tap : l.taps.keySet()) { // the requested outputs (a routing trace's weights)
                    Tensor t = p.tap(tap);
                    copiedFloats += Math.max(t.numel(), 1);
                    out.put(tap, t);
                }
                for (int i = 0; l.gradients && i < p.params.length; i++) {
                    out.put("grad " + i, handOut(p.params[i], shapes.get(i)));
                }
                return out;
            } catch (RuntimeException ex) {
                if (ex instanceof IndexOutOfBoundsException || ex instanceof IllegalArgumentException) {
                    throw ex;
                }
                throw new IllegalStateException("tornado: the compiled step (" + l.tasks.size()
                        + " tasks) failed on " + deviceName() + ": " + ex.getMessage(), ex);
            }
        }
    }

    @Override
    public long bytesCopied() {
        synchronized (plans) {
            return 4 * copiedFloats;
        }
    }

    /** How many times a resident parameter was copied to the device (for tests and reports). */
    long residentUploads() {
        synchronized (plans) {
            return residentUploads;
        }
    }

    /** The worker grid of {@link #offload}'s {@code grid}. */
    static WorkerGrid workers(int[] grid) {
        if (grid.length == 1) {
            WorkerGrid1D w = new WorkerGrid1D((Math.max(grid[0], 1) + LOCAL_1D - 1) / LOCAL_1D * LOCAL_1D);
            w.setLocalWork(LOCAL_1D, 1, 1);
            return w;
        }
        WorkerGrid3D w = new WorkerGrid3D(grid[0], grid[1], grid[2]);
        w.setLocalWork(TornadoKernels.WG, TornadoKernels.WG, 1);
        return w;
    }

    /**
     * The batched product task for (m, n, k); batch strides are those of contiguous operands; {@code ta}
     * ({@code tb}): a (b) is stored transposed, as a contiguous [k, m] ([n, k]) per product.
     */
    private static Task matmulTask(int m, int n, int k, boolean ta, boolean tb) {
        return matmulTask("t", m, n, k, ta, tb);
    }

    /** {@link #matmulTask(int, int, int, boolean, boolean)} under the task name {@code name}. */
    static Task matmulTask(String name, int m, int n, int k, boolean ta, boolean tb) {
        int sa = m * k;
        int sb = k * n;
        int sc = m * n;
        int aRow = ta ? 1 : k;
        int aCol = ta ? m : 1;
        int bRow = tb ? 1 : n;
        int bCol = tb ? k : 1;
        return (g, in, out) -> g.task(name, TornadoKernels::matmulKernel, new KernelContext(), in[0], in[1], out, m, n,
                k, sa, sb, sc, aRow, aCol, bRow, bCol);
    }

    /** Global sizes of the matmul grid: x over BLOCK-column blocks, y over BLOCK-row blocks, z over the batch. */
    static int[] matmulGrid(int batch, int m, int n) {
        int blocks = TornadoKernels.BLOCK;
        int wg = TornadoKernels.WG;
        return new int[] {(n + blocks - 1) / blocks * wg, (m + blocks - 1) / blocks * wg, batch};
    }

    @Override
    public double residentMatmulSeconds(Tensor a, Tensor b, int times) {
        if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0) || a.numel() == 0 || b.numel() == 0 || times < 1) {
            return Backend.super.residentMatmulSeconds(a, b, times);
        }
        int m = a.dim(0);
        int k = a.dim(1);
        int n = b.dim(1);
        float[] ad = a.contiguous().toArray();
        float[] bd = b.contiguous().toArray();
        float[] c = new float[m * n];
        TaskGraph g = new TaskGraph("resident").transferToDevice(DataTransferMode.FIRST_EXECUTION, ad, bd);
        g = matmulTask(m, n, k, false, false).add(g, new float[][] {ad, bd}, c).transferToHost(DataTransferMode.UNDER_DEMAND, c);
        TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot());
        try {
            plan.withGridScheduler(new GridScheduler("resident.t", workers(matmulGrid(1, m, n))));
            plan.execute().transferToHost(c); // compiles, transfers a and b once
            long t0 = System.nanoTime();
            TornadoExecutionResult last = null;
            for (int i = 0; i < times; i++) {
                last = plan.execute();
            }
            last.transferToHost(c); // waits for the last product (the copy is counted too: conservative)
            return (System.nanoTime() - t0) / 1e9 / times;
        } catch (RuntimeException e) {
            throw new IllegalStateException("tornado residentMatmulSeconds " + m + "x" + n + "x" + k + " failed on "
                    + deviceName() + ": " + e.getMessage(), e);
        } finally {
            closePlan(plan);
        }
    }

    /** A device-resident AdamW state: the parameter and moment arrays bound to the plan, the gradient staged. */
    private static final class AdamPlan {
        final Storage m;
        final Storage v;
        final float[] g;
        final float[] hyper;
        final TornadoExecutionPlan plan;
        TornadoExecutionResult last;
        int heldM;
        int heldV;

        AdamPlan(Storage m, Storage v, float[] g, float[] hyper, TornadoExecutionPlan plan) {
            this.m = m;
            this.v = v;
            this.g = g;
            this.hyper = hyper;
            this.plan = plan;
        }
    }

    /** AdamW plans by parameter array (identity): one per parameter, kept until its moments change on the host. */
    private final Map<float[], AdamPlan> adamPlans = new java.util.IdentityHashMap<>();

    /**
     * One AdamW step on the device. A parameter whose gradient is still on the device (a linear layer's, a SwiGLU
     * block's or a Lory expert tensor's) is updated in the {@link ParamPlan} that holds it: nothing but the
     * hyper-parameters crosses, and W and the moments stay newer on the device until the host reads them. Other parameters go through a per-parameter
     * plan that keeps the moments on the device (p and g cross).
     */
    void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, float bc1, float bc2) {
        synchronized (plans) {
            ParamPlan.Param lp = deviceGrad(g);
            if (lp != null && p.storage() == lp.weight && wholeArray(p) && wholeArray(m) && wholeArray(v)) {
                deviceAdamw(lp, m.storage(), v.storage(), lr, beta1, beta2, eps, weightDecay, bc1, bc2);
                return;
            }
        }
        if (!wholeArray(p) || !wholeArray(m) || !wholeArray(v) || p.numel() != g.numel() || p.numel() == 0
                || !offloads(16.0 * p.numel(), 3.0 * p.numel())) { // p in and out, g in; m and v stay on the device
            // moments that are views cannot be bound to a plan; the CPU kernel updates them in place
            Backend.super.adamw(List.of(p), List.of(g), List.of(m), List.of(v), lr, beta1, beta2, eps, weightDecay,
                    bc1, bc2);
            return;
        }
        synchronized (plans) {
            float[] pa = p.storage().unsynced();
            float[] ma = m.storage().unsynced();
            float[] va = v.storage().unsynced();
            AdamPlan a = adamPlans.get(pa);
            if (a != null && (a.m != m.storage() || a.v != v.storage() || m.storage().version() != a.heldM
                    || v.storage().version() != a.heldV)) {
                a.m.peek(); // newer device values come back before the plan that holds them closes
                a.v.peek();
                closePlan(a.plan);
                adamPlans.remove(pa);
                a = null;
            }
            if (a == null) {
                m.storage().peek();
                v.storage().peek();
                float[] gb = new float[p.numel()];
                float[] hyper = new float[8];
                String name = "adamw" + adamPlans.size();
                TaskGraph tg = new TaskGraph(name)
                        .transferToDevice(DataTransferMode.EVERY_EXECUTION, pa, gb, hyper)
                        .transferToDevice(DataTransferMode.FIRST_EXECUTION, ma, va)
                        .task("t", TornadoKernels::adamwKernel, new KernelContext(), pa, gb, ma, va, hyper, p.numel())
                        .transferToHost(DataTransferMode.EVERY_EXECUTION, pa)
                        .transferToHost(DataTransferMode.UNDER_DEMAND, ma, va);
                TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot());
                plan.withGridScheduler(new GridScheduler(name + ".t", workers(new int[] {p.numel()})));
                a = new AdamPlan(m.storage(), v.storage(), gb, hyper, plan);
                adamPlans.put(pa, a);
            }
            p.storage().peek(); // p is copied in from its host array
            copyInto(g, a.g);
            copiedFloats += 3L * p.numel() + a.hyper.length; // p and g in, p out
            fillHyper(a.hyper, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
            try {
                a.last = a.plan.execute();
            } catch (RuntimeException e) {
                throw new IllegalStateException("tornado adamw " + Shapes.str(p.shape()) + " failed on " + deviceName()
                        + ": " + e.getMessage(), e);
            }
            p.storage().touch(); // written on the host by the copy out
            AdamPlan done = a;
            m.storage().deviceNewer(array -> pullMoment(done, array));
            v.storage().deviceNewer(array -> pullMoment(done, array));
            a.heldM = m.storage().version();
            a.heldV = v.storage().version();
        }
    }

    /** Copies a moment of an AdamW plan from the device into its (bound) host array. */
    private void pullMoment(AdamPlan a, float[] array) {
        synchronized (plans) {
            a.last.transferToHost(array);
            copiedFloats += array.length;
        }
    }

    /** AdamW in the plan that holds the parameter: W, G and the moments never leave the device. Holds the lock. */
    /**
     * The parameter plans all of whose parameters' gradients are among {@code gs} as handed out (on the device), in
     * the order first met, each with the index in gs of each of its parameters. Holds the lock.
     */
    private Map<ParamPlan, int[]> wholePlans(List<Tensor> gs) {
        Map<ParamPlan, int[]> at = new LinkedHashMap<>();
        for (int i = 0; i < gs.size(); i++) {
            ParamPlan.Param p = deviceGrad(gs.get(i));
            if (p != null) {
                int[] idx = at.computeIfAbsent(p.plan, k -> {
                    int[] a = new int[k.params.length];
                    java.util.Arrays.fill(a, -1);
                    return a;
                });
                idx[p.index] = i;
            }
        }
        at.values().removeIf(idx -> java.util.Arrays.stream(idx).anyMatch(i -> i < 0));
        return at;
    }

    /** Batched where a plan's gradients are all among ts ({@link ParamPlan#sumOfSquaresAll}), else one by one. */
    @Override
    public double sumOfSquares(List<Tensor> ts) {
        double s = 0;
        boolean[] done = new boolean[ts.size()];
        synchronized (plans) {
            for (Map.Entry<ParamPlan, int[]> e : wholePlans(ts).entrySet()) {
                ParamPlan plan = e.getKey();
                s += batched(plan, "sumOfSquares", plan::sumOfSquaresAll);
                copiedFloats += (long) plan.params.length * ParamPlan.NORM_CHUNKS;
                for (int i : e.getValue()) {
                    done[i] = true;
                }
            }
        }
        for (int i = 0; i < ts.size(); i++) {
            s += done[i] ? 0 : sumOfSquares(ts.get(i));
        }
        return s;
    }

    /** Batched where a plan's gradients are all among ts ({@link ParamPlan#scaleAll}), else one by one. */
    @Override
    public List<Tensor> scaled(List<Tensor> ts, float s) {
        List<Tensor> out = new java.util.ArrayList<>(ts);
        boolean[] done = new boolean[ts.size()];
        synchronized (plans) {
            for (Map.Entry<ParamPlan, int[]> e : wholePlans(ts).entrySet()) {
                ParamPlan plan = e.getKey();
                plan.scale[0] = s;
                batched(plan, "scaled", () -> {
                    plan.scaleAll();
                    return 0;
                });
                copiedFloats += plan.batches();
                for (ParamPlan.Param p : plan.params) {
                    int i = e.getValue()[p.index];
                    Storage g = ts.get(i).storage();
                    g.deviceNewer(gradPull(p)); // still on the device, one version on
                    p.gradVersion = g.version();
                    done[i] = true;
                }
            }
        }
        for (int i = 0; i < ts.size(); i++) {
            if (!done[i]) {
                out.set(i, scaled(ts.get(i), s));
            }
        }
        return out;
    }

    /**
     * Batched where a plan's gradients are all among gs with its own weights and whole moment tensors
     * ({@link ParamPlan#adamwAll}: one graph run per {@link ParamPlan#BATCH} parameters), else one by one.
     */
    @Override
    public void adamw(List<Tensor> ps, List<Tensor> gs, List<Tensor> ms, List<Tensor> vs, float lr, float beta1,
                      float beta2, float eps, float weightDecay, float bc1, float bc2) {
        Backend.checkSameCount("adamw", ps, gs, ms, vs);
        boolean[] done = new boolean[ps.size()];
        synchronized (plans) {
            for (Map.Entry<ParamPlan, int[]> e : wholePlans(gs).entrySet()) {
                ParamPlan plan = e.getKey();
                int[] idx = e.getValue();
                boolean fits = true;
                for (ParamPlan.Param p : plan.params) {
                    int i = idx[p.index];
                    fits &= ps.get(i).storage() == p.weight && wholeArray(ps.get(i)) && wholeArray(ms.get(i))
                            && wholeArray(vs.get(i));
                }
                if (!fits) {
                    continue;
                }
                for (ParamPlan.Param p : plan.params) {
                    bindMoments(p, ms.get(idx[p.index]).storage(), vs.get(idx[p.index]).storage());
                }
                current(plan);
                fillHyper(plan.hyper, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
                batched(plan, "adamw", () -> {
                    plan.adamwAll();
                    return 0;
                });
                copiedFloats += (long) plan.batches() * plan.hyper.length;
                for (ParamPlan.Param p : plan.params) {
                    stepped(p, ms.get(idx[p.index]).storage(), vs.get(idx[p.index]).storage());
                    done[idx[p.index]] = true;
                }
            }
        }
        for (int i = 0; i < ps.size(); i++) {
            if (!done[i]) {
                adamw(ps.get(i), gs.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps, weightDecay, bc1, bc2);
            }
        }
    }

    /** Runs a plan's batched graphs, naming the op and the plan if the device fails. */
    private double batched(ParamPlan plan, String op, java.util.function.DoubleSupplier run) {
        try {
            return run.getAsDouble();
        } catch (RuntimeException ex) {
            throw new IllegalStateException("tornado " + op + " of the " + plan.params.length + " parameters of "
                    + plan.id + " failed on " + deviceName() + ": " + ex.getMessage(), ex);
        }
    }

    /** Binds an optimizer's moments to a parameter's device moments (copied in by current() when they changed). */
    private static void bindMoments(ParamPlan.Param lp, Storage m, Storage v) {
        if (lp.moment1 != m || lp.moment2 != v) {
            lp.moment1 = m; // bound from now on: copied in by current(), newer on the device after each step
            lp.moment2 = v;
            lp.heldM1 = m.version() - 1; // stale: copied in now
        }
    }

    /** After an AdamW step on the device: the weight and both moments are newer there. */
    private void stepped(ParamPlan.Param lp, Storage m, Storage v) {
        ParamPlan plan = lp.plan;
        lp.zeroMoments = false;
        lp.weight.deviceNewer(array -> pullInto(plan, lp.w, array)); // W's host array is the plan's
        m.deviceNewer(array -> pullInto(plan, lp.mom1, array));
        v.deviceNewer(array -> pullInto(plan, lp.mom2, array));
        lp.heldW = lp.weight.version();
        lp.heldM1 = m.version();
        lp.heldM2 = v.version();
    }

    private void deviceAdamw(ParamPlan.Param lp, Storage m, Storage v, float lr, float beta1, float beta2,
                             float eps, float weightDecay, float bc1, float bc2) {
        ParamPlan plan = lp.plan;
        bindMoments(lp, m, v);
        current(plan);
        fillHyper(plan.hyper, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
        try {
            plan.run(plan.adamw(lp.index));
        } catch (RuntimeException e) {
            throw new IllegalStateException("tornado adamw " + lp.size() + " floats of " + plan.id + " failed on "
                    + deviceName() + ": " + e.getMessage(), e);
        }
        copiedFloats += plan.hyper.length;
        stepped(lp, m, v);
    }

    /** Copies a plan's device array into {@code array} (through the plan's host array, unless it is that array). */
    private void pullInto(ParamPlan plan, float[] planArray, float[] array) {
        synchronized (plans) {
            plan.pull(planArray);
            copiedFloats += planArray.length;
            if (array != planArray) {
                System.arraycopy(planArray, 0, array, 0, array.length);
            }
        }
    }

    /** The AdamW kernel's hyper-parameter array (see {@link TornadoKernels#adamwKernel}). */
    private static void fillHyper(float[] h, float lr, float beta1, float beta2, float eps, float weightDecay,
                                  float bc1, float bc2) {
        h[0] = 1 - lr * weightDecay;
        h[1] = beta1;
        h[2] = 1 - beta1;
        h[3] = beta2;
        h[4] = 1 - beta2;
        h[5] = eps;
        h[6] = -(lr / bc1);
        h[7] = (float) (1 / Math.sqrt(bc2));
    }

    /** Whether t is a contiguous tensor covering its whole storage array (so a plan can bind the array). */
    private static boolean wholeArray(Tensor t) {
        return t.isContiguous() && t.offset() == 0 && t.numel() == t.storage().size();
    }

    static void closePlan(TornadoExecutionPlan plan) {
        try {
            plan.close();
        } catch (Exception e) {
            System.getLogger(TornadoBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "closing a TornadoVM execution plan failed: " + e);
        }
    }

    /** Copies a tensor's elements (row-major) into a plan's bound host array. */
    static void copyInto(Tensor t, float[] dst) {
        Tensor c = t.contiguous();
        System.arraycopy(c.storage().peek(), c.offset(), dst, 0, dst.length); // a read: not a host write
    }

    /** Number of cached execution plans (each a compiled op for one shape); AdamW's are not counted. */
    int planCount() {
        synchronized (plans) {
            return plans.size();
        }
    }

    /** Closes every cached execution plan (device memory is released). */
    public void close() {
        synchronized (plans) {
            // values newer on the device (weights, moments, gradients) come to the host first
            java.util.List<ParamPlan> held = new java.util.ArrayList<>(residentPlans.values());
            held.addAll(graphPlans.values());
            held.forEach(this::flush); // all first: a plan's pull may read another plan
            adamPlans.values().forEach(a -> {
                a.m.peek();
                a.v.peek();
            });
            held.forEach(ParamPlan::close);
            plans.values().forEach(p -> closePlan(p.plan()));
            plans.clear();
            residentPlans.clear();
            graphPlans.clear();
            adamPlans.values().forEach(a -> closePlan(a.plan));
            adamPlans.clear();
        }
    }

    // Copies, joins and index ops run on the host (no device kernels for them yet).
    @Override
    public Tensor copy(Tensor x) {
        return cpu.copy(x);
    }

    @Override
    public Tensor concat(int axis, Tensor[] parts) {
        return cpu.concat(axis, parts);
    }

    @Override
    public Tensor pad(Tensor x, int[] before, int[] after, float value) {
        return cpu.pad(x, before, after, value);
    }

    @Override
    public Tensor indexSelect(Tensor x, int axis, int[] index) {
        return cpu.indexSelect(x, axis, index);
    }

    @Override
    public Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src) {
        return cpu.indexAdd(x, axis, index, src);
    }

    @Override
    public Tensor gather(Tensor x, int axis, int[] index, int[] indexShape) {
        return cpu.gather(x, axis, index, indexShape);
    }

    @Override
    public Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src) {
        return cpu.scatterAdd(x, axis, index, indexShape, src);
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        return cpu.where(cond, a, b);
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        int n = x.numel();
        // about 10 flops per element for exp (and SiLU), over one float in and one out
        if (n == 0 || (op != UnaryOp.EXP && op != UnaryOp.SILU) || !offloads(10.0 * n, 2.0 * n)) {
            return cpu.unary(op, x);
        }
        Task task = op == UnaryOp.EXP
                ? (g, in, out) -> g.task("t", TornadoKernels::expKernel, new KernelContext(), in[0], out, n)
                : (g, in, out) -> g.task("t", TornadoKernels::siluKernel, new KernelContext(), in[0], out, n);
        return offload(op.opName() + " " + n, x.shape(), task, new int[] {n}, x);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int n = a.numel();
        if (!java.util.Arrays.equals(a.shape(), b.shape()) || n == 0 || !offloads(n, 3.0 * n)
                || (op != BinaryOp.ADD && op != BinaryOp.SUB && op != BinaryOp.MUL)) {
            return cpu.binary(op, a, b); // broadcasting, other ops, or not worth the copies
        }
        Task task = switch (op) {
            case ADD -> (g, in, out) -> g.task("t", TornadoKernels::addKernel, new KernelContext(), in[0], in[1], out, n);
            case SUB -> (g, in, out) -> g.task("t", TornadoKernels::subKernel, new KernelContext(), in[0], in[1], out, n);
            default -> (g, in, out) -> g.task("t", TornadoKernels::mulKernel, new KernelContext(), in[0], in[1], out, n);
        };
        return offload(op.opName() + " " + n, a.shape(), task, new int[] {n}, a, b);
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        int rank = x.rank();
        boolean lastAxis = rank > 0 && axes.length == 1 && (axes[0] == rank - 1 || axes[0] == -1);
        if (!lastAxis || x.numel() == 0 || !offloads(x.numel(), x.numel() + (double) x.numel() / x.dim(-1))) {
            return cpu.reduce(op, x, axes, keepDim); // other axes (and the errors): CPU
        }
        int cols = x.dim(-1);
        int rows = x.numel() / cols;
        int[] outShape = keepDim ? x.shape() : java.util.Arrays.copyOf(x.shape(), rank - 1);
        if (keepDim) {
            outShape[rank - 1] = 1;
        }
        int code = op.ordinal(); // SUM, MEAN, MAX, MIN = 0..3, as the kernel expects
        return offload(op.opName() + " rows " + rows + "x" + cols, outShape,
                (g, in, out) -> g.task("t", TornadoKernels::reduceRowsKernel, new KernelContext(), in[0], out, rows,
                        cols, code), new int[] {rows}, x);
    }

    @Override
    public Tensor softmax(Tensor x, int axis, boolean log) {
        int cols = x.rank() == 0 ? 0 : x.dim(-1);
        if (log || axis != x.rank() - 1 || cols == 0 || !offloads(8.0 * x.numel(), 2.0 * x.numel())) {
            return cpu.softmax(x, axis, log);
        }
        int rows = x.numel() / cols;
        return offload("softmax " + rows + "x" + cols, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::causalSoftmaxRows, new KernelContext(), in[0], out, rows,
                        1, cols), new int[] {rows}, x); // one query per row: every column visible
    }

    /** On the host (eager mode; a compiled step computes it on the device, {@link GraphPlan}). */
    @Override
    public Tensor topKMask(Tensor x, int axis, int k) {
        return cpu.topKMask(x, axis, k);
    }

    @Override
    public Tensor causalSoftmax(Tensor x) {
        if (x.rank() < 2 || x.dim(-2) > x.dim(-1) || x.numel() == 0 || !offloads(8.0 * x.numel(), 2.0 * x.numel())) {
            return cpu.causalSoftmax(x); // also produces the shape errors
        }
        int lq = x.dim(-2);
        int lk = x.dim(-1);
        int rows = x.numel() / lk;
        return offload("causalSoftmax " + rows + "x" + lq + "x" + lk, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::causalSoftmaxRows, new KernelContext(), in[0], out, rows,
                        lq, lk), new int[] {rows}, x);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
        if (!java.util.Arrays.equals(y.shape(), g.shape()) || y.rank() == 0 || y.numel() == 0
                || !offloads(4.0 * y.numel(), 3.0 * y.numel())) {
            return cpu.softmaxBackward(y, g, scale);
        }
        int cols = y.dim(-1);
        int rows = y.numel() / cols;
        return offload("softmaxBackward " + rows + "x" + cols + " scale " + scale, y.shape(),
                (gr, in, out) -> gr.task("t", TornadoKernels::softmaxBackwardRows, new KernelContext(), in[0], in[1],
                        out, rows, cols, scale), new int[] {rows}, y, g);
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        int cols = x.rank() == 0 ? 0 : x.dim(-1);
        if (weight == null || cols == 0 || weight.rank() != 1 || weight.dim(0) != cols
                || !offloads(4.0 * x.numel(), 2.0 * x.numel())) {
            return cpu.rmsNorm(x, weight, eps); // also produces the shape errors
        }
        int rows = x.numel() / cols;
        // eps is baked into the compiled kernel like the sizes, so it is part of the plan's key
        return offload("rmsnorm " + rows + "x" + cols + " eps " + eps, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::rmsNormRows, new KernelContext(), in[0], in[1], out,
                        rows, cols, eps),
                new int[] {rows}, x, weight);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        int cols = x.rank() == 0 ? 0 : x.dim(-1);
        if (weight == null || bias == null || cols == 0 || weight.rank() != 1 || weight.dim(0) != cols
                || bias.rank() != 1 || bias.dim(0) != cols || !offloads(6.0 * x.numel(), 2.0 * x.numel())) {
            return cpu.layerNorm(x, weight, bias, eps); // also produces the shape errors
        }
        int rows = x.numel() / cols;
        return offload("layernorm " + rows + "x" + cols + " eps " + eps, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::layerNormRows, new KernelContext(), in[0], in[1], in[2],
                        out, rows, cols, eps), new int[] {rows}, x, weight, bias);
    }
}
