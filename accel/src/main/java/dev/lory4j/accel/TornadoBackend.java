package dev.lory4j.accel;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.spi.Backend;
import java.util.LinkedHashMap;
import java.util.Map;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * The TornadoVM backend (work in progress, issue #7): matrix products with a 2-D right operand (every
 * Linear layer, the expert merge) run on the TornadoVM device, with one compiled execution plan per shape
 * (TornadoVM binds host arrays and scalar sizes into a plan, so inputs are copied into the plan's arrays);
 * every other operation is delegated to the CPU backend until its kernel lands. Available when a GPU device
 * exists, or on any device when {@code -Dlory4j.backend=tornado} asks for it explicitly (on a CPU-only OpenCL
 * device our Vector-API kernels are faster, so it is not chosen by default there).
 */
public final class TornadoBackend implements Backend {
    private final CpuBackend cpu = new CpuBackend();

    /** Creates the backend (the TornadoVM runtime starts on first use). */
    public TornadoBackend() {}

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

    /** Name of the device kernels run on. */
    public String deviceName() {
        return TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice().getDeviceName();
    }

    /** A compiled matmul for one shape with the host arrays it is bound to (TornadoVM binds them at build). */
    private record MatmulPlan(float[] a, float[] b, float[] c, TornadoExecutionPlan plan) {}

    private static final int MAX_PLANS = 64;

    /** Execution plans by shape, least recently used evicted (and closed) past {@link #MAX_PLANS}. */
    private final Map<String, MatmulPlan> plans = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, MatmulPlan> eldest) {
            if (size() > MAX_PLANS) {
                closePlan(eldest.getValue().plan());
                return true;
            }
            return false;
        }
    };

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() > 2 && b.rank() == 2 && a.dim(-1) == b.dim(0) && a.numel() > 0) {
            // x [..., k] . W [k, n]: one 2-D product over all leading rows (every Linear layer).
            int[] shape = a.shape();
            shape[shape.length - 1] = b.dim(1);
            return matmul(a.reshape(-1, a.dim(-1)), b).reshape(shape);
        }
        if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0) || a.numel() == 0 || b.numel() == 0) {
            return cpu.matmul(a, b); // batched, 1-D, empty and mismatched shapes (with its errors): CPU for now
        }
        int m = a.dim(0);
        int k = a.dim(1);
        int n = b.dim(1);
        synchronized (plans) {
            MatmulPlan p = plans.computeIfAbsent(m + "x" + n + "x" + k, key -> compile(m, n, k));
            copyInto(a, p.a());
            copyInto(b, p.b());
            try {
                p.plan().execute();
            } catch (RuntimeException e) {
                throw new IllegalStateException("tornado matmul: [" + m + "," + k + "] x [" + k + "," + n
                        + "] failed on " + deviceName() + ": " + e.getMessage(), e);
            }
            return Tensor.wrap(p.c().clone(), m, n);
        }
    }

    private static MatmulPlan compile(int m, int n, int k) {
        float[] x = new float[m * k];
        float[] y = new float[k * n];
        float[] c = new float[m * n];
        TaskGraph graph = new TaskGraph("matmul_" + m + "x" + n + "x" + k)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x, y)
                .task("mm", TornadoKernels::matmul, x, y, c, m, n, k)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, c);
        ImmutableTaskGraph snapshot = graph.snapshot();
        return new MatmulPlan(x, y, c, new TornadoExecutionPlan(snapshot));
    }

    private static void closePlan(TornadoExecutionPlan plan) {
        try {
            plan.close();
        } catch (Exception e) {
            System.getLogger(TornadoBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "closing a TornadoVM execution plan failed: " + e);
        }
    }

    /** Copies a tensor's elements (row-major) into a plan's bound host array. */
    private static void copyInto(Tensor t, float[] dst) {
        Tensor c = t.contiguous();
        System.arraycopy(c.data(), c.offset(), dst, 0, dst.length);
    }

    /** Closes every cached execution plan (device memory is released). */
    public void close() {
        synchronized (plans) {
            plans.values().forEach(p -> closePlan(p.plan()));
            plans.clear();
        }
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        return cpu.unary(op, x);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        return cpu.binary(op, a, b);
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        return cpu.reduce(op, x, axes, keepDim);
    }

    @Override
    public Tensor softmax(Tensor x, int axis, boolean log) {
        return cpu.softmax(x, axis, log);
    }

    @Override
    public Tensor causalSoftmax(Tensor x) {
        return cpu.causalSoftmax(x);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
        return cpu.softmaxBackward(y, g, scale);
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        return cpu.rmsNorm(x, weight, eps);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return cpu.layerNorm(x, weight, bias, eps);
    }
}
