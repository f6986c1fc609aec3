package dev.lory4j.accel;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.CpuBackend;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;
import dev.lory4j.tensor.spi.Backend;
import java.util.LinkedHashMap;
import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * The TornadoVM backend (work in progress, issue #7). On the TornadoVM device: matrix products with a 2-D right
 * operand (every Linear layer, the expert merge; a local-memory tiled kernel), same-shape add/sub/mul, exp, SiLU, softmax over the last axis
 * and RMSNorm, each with one compiled execution plan per (op, shape). Broadcasting, batched products,
 * reductions and the rest are delegated to the CPU backend until their kernels land. Available when a GPU device
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

    /** A compiled task graph for one (op, shape) with the host arrays it is bound to. */
    private record DevicePlan(float[][] inputs, float[] output, TornadoExecutionPlan plan) {}

    /** Adds the op's task to a graph whose inputs and output arrays are already chosen. */
    @FunctionalInterface
    private interface Task {
        TaskGraph add(TaskGraph graph, float[][] in, float[] out);
    }

    private static final int MAX_PLANS = 64;

    /**
     * Execution plans by (op, shape), least recently used evicted (and closed) past {@link #MAX_PLANS}:
     * TornadoVM compiles a plan for the host arrays and scalar sizes it was built with, so each plan owns its
     * arrays and every call copies its inputs into them.
     */
    private final Map<String, DevicePlan> plans = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, DevicePlan> eldest) {
            if (size() > MAX_PLANS) {
                closePlan(eldest.getValue().plan());
                return true;
            }
            return false;
        }
    };

    /** Runs {@code task} on the device for these inputs, compiling its plan on first use of (key, shapes). */
    private Tensor offload(String key, int[] outShape, Task task, Tensor... inputs) {
        return offload(key, outShape, task, null, inputs);
    }

    /**
     * As {@link #offload(String, int[], Task, Tensor...)} for a {@code KernelContext} task whose 2-D grid is
     * {@code grid} (global sizes, multiples of {@link TornadoKernels#TILE}) with TILE x TILE work groups.
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
                if (grid != null) {
                    WorkerGrid2D workers = new WorkerGrid2D(grid[0], grid[1]);
                    workers.setLocalWork(TornadoKernels.TILE, TornadoKernels.TILE, 1);
                    plan.withGridScheduler(new GridScheduler(name + ".t", workers));
                }
                p = new DevicePlan(in, out, plan);
                plans.put(key, p);
            }
            for (int i = 0; i < inputs.length; i++) {
                copyInto(inputs[i], p.inputs()[i]);
            }
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
        if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0) || a.numel() == 0 || b.numel() == 0) {
            return cpu.matmul(a, b); // batched, 1-D, empty and mismatched shapes (with its errors): CPU for now
        }
        int m = a.dim(0);
        int k = a.dim(1);
        int n = b.dim(1);
        int tile = TornadoKernels.TILE;
        int[] grid = {(m + tile - 1) / tile * tile, (n + tile - 1) / tile * tile};
        return offload("matmul " + m + "x" + n + "x" + k, new int[] {m, n},
                (g, in, out) -> g.task("t", TornadoKernels::matmulTiledKernel, new KernelContext(), in[0], in[1], out,
                        m, n, k), grid, a, b);
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
        String key = op.opName() + " " + x.numel();
        return switch (op) {
            case EXP -> x.numel() == 0 ? cpu.unary(op, x)
                    : offload(key, x.shape(), (g, in, out) -> g.task("t", TornadoKernels::expKernel, in[0], out), x);
            case SILU -> x.numel() == 0 ? cpu.unary(op, x)
                    : offload(key, x.shape(), (g, in, out) -> g.task("t", TornadoKernels::siluKernel, in[0], out), x);
            default -> cpu.unary(op, x);
        };
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape()) || a.numel() == 0) {
            return cpu.binary(op, a, b); // broadcasting: CPU for now
        }
        String key = op.opName() + " " + a.numel();
        return switch (op) {
            case ADD -> offload(key, a.shape(), (g, in, out) -> g.task("t", TornadoKernels::addKernel, in[0], in[1], out),
                    a, b);
            case SUB -> offload(key, a.shape(), (g, in, out) -> g.task("t", TornadoKernels::subKernel, in[0], in[1], out),
                    a, b);
            case MUL -> offload(key, a.shape(), (g, in, out) -> g.task("t", TornadoKernels::mulKernel, in[0], in[1], out),
                    a, b);
            default -> cpu.binary(op, a, b);
        };
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        return cpu.reduce(op, x, axes, keepDim);
    }

    @Override
    public Tensor softmax(Tensor x, int axis, boolean log) {
        int cols = x.rank() == 0 ? 0 : x.dim(-1);
        if (log || axis != x.rank() - 1 || cols == 0) {
            return cpu.softmax(x, axis, log);
        }
        int rows = x.numel() / cols;
        return offload("softmax " + rows + "x" + cols, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::softmaxRows, in[0], out, rows, cols), x);
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
        int cols = x.rank() == 0 ? 0 : x.dim(-1);
        if (weight == null || cols == 0 || weight.rank() != 1 || weight.dim(0) != cols) {
            return cpu.rmsNorm(x, weight, eps); // also produces the shape errors
        }
        int rows = x.numel() / cols;
        // eps is baked into the compiled kernel like the sizes, so it is part of the plan's key
        return offload("rmsnorm " + rows + "x" + cols + " eps " + eps, x.shape(),
                (g, in, out) -> g.task("t", TornadoKernels::rmsNormRows, in[0], in[1], out, rows, cols, eps),
                x, weight);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return cpu.layerNorm(x, weight, bias, eps);
    }
}
