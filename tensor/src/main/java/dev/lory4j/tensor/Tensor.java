package dev.lory4j.tensor;

import dev.lory4j.tensor.kernels.Elementwise;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import java.util.Arrays;

/**
 * An n-dimensional float32 array: a shape, strides and an offset over a shared {@link Storage}.
 *
 * <p>Views ({@link #reshape}, {@link #transpose}, {@link #permute}, {@link #slice}, {@link #expand}, ...) share
 * the storage; {@link #contiguous()} copies. Binary operations broadcast by NumPy's rules. Compute operations
 * go to the current {@link Backend} (the Vector-API CPU backend unless another is installed); layout operations
 * are done here. Methods ending in {@code InPlace} (and {@link #fill}, {@link #copyFrom}, {@link #set}) write
 * into this tensor's storage and therefore into every view of it.
 */
public final class Tensor {
    static {
        VectorApi.require();
    }

    private final Storage storage;
    private final int[] shape;
    private final int[] strides;
    private final int offset;

    private Tensor(Storage storage, int[] shape, int[] strides, int offset) {
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    // ---------------------------------------------------------------- creation

    /** A view over an existing storage with explicit shape, strides and offset (for backends); checks bounds. */
    public static Tensor of(Storage storage, int[] shape, int[] strides, int offset) {
        Shapes.checkShape("Tensor.of", shape);
        if (strides.length != shape.length) {
            throw new IllegalArgumentException("Tensor.of: strides " + Shapes.str(strides) + " do not match shape "
                    + Shapes.str(shape));
        }
        long lo = offset;
        long hi = offset;
        boolean empty = false;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 0) {
                empty = true;
            } else if (strides[d] >= 0) {
                hi += (long) strides[d] * (shape[d] - 1);
            } else {
                lo += (long) strides[d] * (shape[d] - 1);
            }
        }
        if (!empty && (lo < 0 || hi >= storage.size())) {
            throw new IllegalArgumentException("Tensor.of: shape " + Shapes.str(shape) + " strides "
                    + Shapes.str(strides) + " offset " + offset + " reach outside a storage of " + storage.size()
                    + " floats");
        }
        return new Tensor(storage, shape.clone(), strides.clone(), offset);
    }

    static Tensor contiguousOver(float[] data, int[] shape) {
        return new Tensor(new Storage(data), shape, Shapes.contiguousStrides(shape), 0);
    }

    /** A new zero-filled tensor. */
    public static Tensor zeros(int... shape) {
        int[] s = Shapes.checkShape("zeros", shape);
        return new Tensor(Storage.allocate(Shapes.numel(s)), s, Shapes.contiguousStrides(s), 0);
    }

    /**
     * A new contiguous tensor whose elements are unspecified until written: for kernels that write every element
     * (it skips the zero fill of a reused buffer).
     */
    public static Tensor empty(int... shape) {
        int[] s = Shapes.checkShape("empty", shape);
        return new Tensor(Storage.allocateForOverwrite(Shapes.numel(s)), s, Shapes.contiguousStrides(s), 0);
    }

    /** A new tensor filled with ones. */
    public static Tensor ones(int... shape) {
        return full(1f, shape);
    }

    /** A new tensor filled with {@code value}. */
    public static Tensor full(float value, int... shape) {
        int[] s = Shapes.checkShape("full", shape);
        float[] d = new float[Shapes.numel(s)];
        Arrays.fill(d, value);
        return contiguousOver(d, s);
    }

    /** A rank-0 tensor holding one value. */
    public static Tensor scalar(float value) {
        return contiguousOver(new float[] {value}, new int[0]);
    }

    /** 0, 1, ..., n-1 as a 1-D tensor. */
    public static Tensor arange(int n) {
        return arange(0, n, 1);
    }

    /** start, start+step, ... below end (above end for a negative step), as a 1-D tensor. */
    public static Tensor arange(float start, float end, float step) {
        if (step == 0 || !Float.isFinite(step) || !Float.isFinite(start) || !Float.isFinite(end)) {
            throw new IllegalArgumentException("arange: start " + start + ", end " + end + ", step " + step
                    + ": step must be non-zero and all values finite");
        }
        int n = (int) Math.max(0, Math.ceil((end - start) / (double) step));
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            d[i] = start + i * step;
        }
        return contiguousOver(d, new int[] {n});
    }

    /** A new tensor with a copy of {@code data} in row-major order; the shape must hold exactly data.length values. */
    public static Tensor fromArray(float[] data, int... shape) {
        return wrap(data.clone(), shape);
    }

    /** A tensor over {@code data} without copying (writes show through); the shape must hold data.length values. */
    public static Tensor wrap(float[] data, int... shape) {
        int[] s = Shapes.checkShape("fromArray", shape);
        if (Shapes.numel(s) != data.length) {
            throw new IllegalArgumentException("fromArray: shape " + Shapes.str(s) + " holds " + Shapes.numel(s)
                    + " values but the array has " + data.length);
        }
        return contiguousOver(data, s);
    }

    /** A 2-D tensor from rows of equal length. */
    public static Tensor fromRows(float[]... rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        float[] d = new float[rows.length * cols];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != cols) {
                throw new IllegalArgumentException("fromRows: row " + r + " has " + rows[r].length
                        + " values, row 0 has " + cols);
            }
            System.arraycopy(rows[r], 0, d, r * cols, cols);
        }
        return contiguousOver(d, new int[] {rows.length, cols});
    }

    /** A new zero-filled tensor of the same shape as {@code t}. */
    public static Tensor zerosLike(Tensor t) {
        return zeros(t.shape);
    }

    // ---------------------------------------------------------------- metadata and element access

    /** The shape (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** Size of dimension {@code axis} (negative counts from the end). */
    public int dim(int axis) {
        return shape[Shapes.axis("dim", axis, shape.length, shape)];
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Number of elements. */
    public int numel() {
        return Shapes.numel(shape);
    }

    /** The strides in elements (a copy). */
    public int[] strides() {
        return strides.clone();
    }

    /** Offset of element [0,...,0] in the storage. */
    public int offset() {
        return offset;
    }

    /** The storage this tensor views. */
    public Storage storage() {
        return storage;
    }

    /** The backing array (shared with all views; index with {@link #offset()} and {@link #strides()}). */
    public float[] data() {
        return storage.array();
    }

    /** True when the elements lie in row-major order without gaps from {@link #offset()}. */
    public boolean isContiguous() {
        int expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && strides[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    private int index(String op, int[] idx) {
        if (idx.length != shape.length) {
            throw new IllegalArgumentException(op + ": " + idx.length + " indices for shape " + Shapes.str(shape));
        }
        int p = offset;
        for (int d = 0; d < idx.length; d++) {
            int i = idx[d] < 0 ? idx[d] + shape[d] : idx[d];
            if (i < 0 || i >= shape[d]) {
                throw new IndexOutOfBoundsException(op + ": index " + idx[d] + " out of range for dimension " + d
                        + " of size " + shape[d] + " in shape " + Shapes.str(shape));
            }
            p += i * strides[d];
        }
        return p;
    }

    /** The element at {@code idx} (negative indices count from the end). */
    public float get(int... idx) {
        return storage.array()[index("get", idx)];
    }

    /** Writes one element (into the shared storage). */
    public Tensor set(float value, int... idx) {
        storage.array()[index("set", idx)] = value;
        return this;
    }

    /** The value of a one-element tensor. */
    public float item() {
        if (numel() != 1) {
            throw new IllegalArgumentException("item: tensor of shape " + Shapes.str(shape) + " has " + numel()
                    + " elements, not 1");
        }
        return storage.array()[offset];
    }

    /** The elements in row-major order, as a new array. */
    public float[] toArray() {
        Tensor c = contiguous();
        if (c != this) {
            return c.storage.array(); // a fresh exact-size copy
        }
        return Arrays.copyOfRange(storage.array(), offset, offset + numel());
    }

    // ---------------------------------------------------------------- views

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        return isContiguous() ? this : backend().copy(this);
    }

    /** A copy that shares nothing with this tensor (the backend's {@code copy}). */
    public Tensor copy() {
        return backend().copy(this);
    }

    /** A contiguous copy made on the host (the CPU backend's {@code copy}). */
    static Tensor copyOnHost(Tensor x) {
        Tensor out = empty(x.shape);
        out.copyFrom(x);
        return out;
    }

    private int[] inferShape(String op, int[] newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException(op + ": more than one -1 in " + Shapes.str(newShape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException(op + ": negative dimension in " + Shapes.str(newShape));
            } else {
                known *= s[i];
            }
        }
        int n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException(op + ": cannot reshape " + Shapes.str(shape) + " (" + n
                        + " elements) to " + Shapes.str(newShape));
            }
            s[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": cannot reshape " + Shapes.str(shape) + " (" + n
                    + " elements) to " + Shapes.str(newShape) + " (" + known + " elements)");
        }
        return s;
    }

    /** A view with a new shape (one dimension may be -1); the tensor must be contiguous. */
    public Tensor view(int... newShape) {
        int[] s = inferShape("view", newShape);
        if (!isContiguous()) {
            throw new IllegalArgumentException("view: tensor of shape " + Shapes.str(shape) + " with strides "
                    + Shapes.str(strides) + " is not contiguous; use reshape (copies) or contiguous() first");
        }
        return new Tensor(storage, s, Shapes.contiguousStrides(s), offset);
    }

    /** A tensor with a new shape (one dimension may be -1): a view when contiguous, else a copy. */
    public Tensor reshape(int... newShape) {
        int[] s = inferShape("reshape", newShape);
        Tensor c = contiguous();
        return new Tensor(c.storage, s, Shapes.contiguousStrides(s), c.offset);
    }

    /** A view with dimensions {@code a} and {@code b} swapped. */
    public Tensor transpose(int a, int b) {
        int x = Shapes.axis("transpose", a, shape.length, shape);
        int y = Shapes.axis("transpose", b, shape.length, shape);
        int[] p = new int[shape.length];
        Arrays.setAll(p, i -> i);
        p[x] = y;
        p[y] = x;
        return permute(p);
    }

    /** The transpose of a 2-D tensor (a view). */
    public Tensor t() {
        if (shape.length != 2) {
            throw new IllegalArgumentException("t: expects a 2-D tensor, got shape " + Shapes.str(shape));
        }
        return transpose(0, 1);
    }

    /** A view whose dimension i is this tensor's dimension order[i]. */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not match shape "
                    + Shapes.str(shape));
        }
        int[] s = new int[order.length];
        int[] st = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int a = Shapes.axis("permute", order[i], shape.length, shape);
            if (seen[a]) {
                throw new IllegalArgumentException("permute: axis " + order[i] + " repeated in "
                        + Arrays.toString(order));
            }
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
        }
        return new Tensor(storage, s, st, offset);
    }

    /** A view of indices [start, end) along {@code axis} (negative start/end count from the end). */
    public Tensor slice(int axis, int start, int end) {
        return slice(axis, start, end, 1);
    }

    /** A view of indices start, start+step, ... below end along {@code axis}; step must be positive. */
    public Tensor slice(int axis, int start, int end, int step) {
        int a = Shapes.axis("slice", axis, shape.length, shape);
        int n = shape[a];
        int s0 = start < 0 ? start + n : start;
        int e0 = end < 0 ? end + n : end;
        if (step <= 0 || s0 < 0 || e0 > n || s0 > e0) {
            throw new IndexOutOfBoundsException("slice: range [" + start + ", " + end + ") step " + step
                    + " invalid for axis " + axis + " of size " + n + " in shape " + Shapes.str(shape));
        }
        int[] s = shape.clone();
        int[] st = strides.clone();
        s[a] = (e0 - s0 + step - 1) / step;
        st[a] = strides[a] * step;
        return new Tensor(storage, s, st, offset + s0 * strides[a]);
    }

    /** The view at {@code index} along {@code axis}, with that dimension removed. */
    public Tensor select(int axis, int index) {
        int a = Shapes.axis("select", axis, shape.length, shape);
        int i = index < 0 ? index + shape[a] : index;
        if (i < 0 || i >= shape[a]) {
            throw new IndexOutOfBoundsException("select: index " + index + " out of range for axis " + axis
                    + " of size " + shape[a] + " in shape " + Shapes.str(shape));
        }
        int[] s = new int[shape.length - 1];
        int[] st = new int[shape.length - 1];
        for (int d = 0, k = 0; d < shape.length; d++) {
            if (d != a) {
                s[k] = shape[d];
                st[k++] = strides[d];
            }
        }
        return new Tensor(storage, s, st, offset + i * strides[a]);
    }

    /** A view broadcast to {@code newShape} (size-1 dims repeat with stride 0; -1 keeps a dimension). */
    public Tensor expand(int... newShape) {
        if (newShape.length < shape.length) {
            throw new IllegalArgumentException("expand: cannot expand shape " + Shapes.str(shape) + " to fewer dims "
                    + Shapes.str(newShape));
        }
        int lead = newShape.length - shape.length;
        int[] s = new int[newShape.length];
        int[] st = new int[newShape.length];
        for (int d = 0; d < newShape.length; d++) {
            int want = newShape[d];
            if (d < lead) {
                if (want < 0) {
                    throw new IllegalArgumentException("expand: -1 not allowed for new leading dim " + d + " in "
                            + Shapes.str(newShape));
                }
                s[d] = want;
                st[d] = 0;
                continue;
            }
            int have = shape[d - lead];
            if (want == -1 || want == have) {
                s[d] = have;
                st[d] = strides[d - lead];
            } else if (have == 1 && want >= 0) {
                s[d] = want;
                st[d] = 0;
            } else {
                throw new IllegalArgumentException("expand: shape " + Shapes.str(shape) + " cannot be expanded to "
                        + Shapes.str(newShape) + " (dimension " + d + ": " + have + " vs " + want + ")");
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** A view with a new size-1 dimension at {@code axis} (axis may equal rank). */
    public Tensor unsqueeze(int axis) {
        int a = axis < 0 ? axis + shape.length + 1 : axis;
        if (a < 0 || a > shape.length) {
            throw new IllegalArgumentException("unsqueeze: axis " + axis + " out of range for shape "
                    + Shapes.str(shape));
        }
        int[] s = new int[shape.length + 1];
        int[] st = new int[shape.length + 1];
        for (int d = 0, k = 0; d < s.length; d++) {
            if (d == a) {
                s[d] = 1;
                st[d] = k < shape.length ? strides[k] * shape[k] : 1;
            } else {
                s[d] = shape[k];
                st[d] = strides[k++];
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** A view without the size-1 dimension {@code axis}. */
    public Tensor squeeze(int axis) {
        int a = Shapes.axis("squeeze", axis, shape.length, shape);
        if (shape[a] != 1) {
            throw new IllegalArgumentException("squeeze: dimension " + axis + " of shape " + Shapes.str(shape)
                    + " has size " + shape[a] + ", not 1");
        }
        return select(a, 0);
    }

    /** A 1-D tensor of all elements (a view when contiguous). */
    public Tensor flatten() {
        return reshape(-1);
    }

    /** Pieces of the given sizes along {@code axis} (views); the sizes must add up to the dimension. */
    public Tensor[] split(int axis, int... sizes) {
        int a = Shapes.axis("split", axis, shape.length, shape);
        int total = 0;
        for (int s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException("split: negative size in " + Arrays.toString(sizes));
            }
            total += s;
        }
        if (total != shape[a]) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + total
                    + " but axis " + axis + " of shape " + Shapes.str(shape) + " has " + shape[a]);
        }
        Tensor[] out = new Tensor[sizes.length];
        int pos = 0;
        for (int i = 0; i < sizes.length; i++) {
            out[i] = slice(a, pos, pos + sizes[i]);
            pos += sizes[i];
        }
        return out;
    }

    /** {@code n} equal pieces along {@code axis} (views); the dimension must be divisible by n. */
    public Tensor[] chunk(int axis, int n) {
        int a = Shapes.axis("chunk", axis, shape.length, shape);
        if (n <= 0 || shape[a] % n != 0) {
            throw new IllegalArgumentException("chunk: axis " + axis + " of shape " + Shapes.str(shape)
                    + " cannot be split into " + n + " equal pieces");
        }
        int[] sizes = new int[n];
        Arrays.fill(sizes, shape[a] / n);
        return split(a, sizes);
    }

    // ---------------------------------------------------------------- joining, padding, indexing (copies)

    /** Joins tensors along an existing axis; all other dimensions must agree. */
    public static Tensor concat(int axis, Tensor... parts) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("concat: no tensors given");
        }
        int[] s0 = parts[0].shape;
        int a = Shapes.axis("concat", axis, s0.length, s0);
        int total = 0;
        for (Tensor p : parts) {
            if (p.shape.length != s0.length) {
                throw new IllegalArgumentException("concat: shapes " + Shapes.str(s0) + " and " + Shapes.str(p.shape)
                        + " differ in rank");
            }
            for (int d = 0; d < s0.length; d++) {
                if (d != a && p.shape[d] != s0[d]) {
                    throw new IllegalArgumentException("concat: shapes " + Shapes.str(s0) + " and "
                            + Shapes.str(p.shape) + " differ in dimension " + d + " (concat axis " + a + ")");
                }
            }
            total += p.shape[a];
        }
        return backend().concat(a, parts.clone());
    }

    /** Checked parts joined along axis a on the host (the CPU backend's {@code concat}). */
    static Tensor concatOnHost(int a, Tensor[] parts) {
        int[] s = parts[0].shape.clone();
        int total = 0;
        for (Tensor p : parts) {
            total += p.shape[a];
        }
        s[a] = total;
        Tensor out = zeros(s);
        int pos = 0;
        for (Tensor p : parts) {
            out.slice(a, pos, pos + p.shape[a]).copyFrom(p);
            pos += p.shape[a];
        }
        return out;
    }

    /** Stacks equal-shaped tensors along a new axis. */
    public static Tensor stack(int axis, Tensor... parts) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("stack: no tensors given");
        }
        Tensor[] u = new Tensor[parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (!Arrays.equals(parts[i].shape, parts[0].shape)) {
                throw new IllegalArgumentException("stack: shapes " + Shapes.str(parts[0].shape) + " and "
                        + Shapes.str(parts[i].shape) + " differ");
            }
            u[i] = parts[i].unsqueeze(axis);
        }
        return concat(axis, u);
    }

    /** Pads each axis with before[d] and after[d] elements of {@code value} (arrays of length rank). */
    public Tensor pad(int[] before, int[] after, float value) {
        if (before.length != shape.length || after.length != shape.length) {
            throw new IllegalArgumentException("pad: need " + shape.length + " before/after sizes for shape "
                    + Shapes.str(shape) + ", got " + before.length + " and " + after.length);
        }
        int[] s = shape.clone();
        for (int d = 0; d < s.length; d++) {
            if (before[d] < 0 || after[d] < 0) {
                throw new IllegalArgumentException("pad: negative padding " + before[d] + "/" + after[d] + " on axis "
                        + d);
            }
        }
        return backend().pad(this, before.clone(), after.clone(), value);
    }

    /** x padded on the host (the CPU backend's {@code pad}; sizes checked). */
    static Tensor padOnHost(Tensor x, int[] before, int[] after, float value) {
        int[] s = x.shape.clone();
        for (int d = 0; d < s.length; d++) {
            s[d] += before[d] + after[d];
        }
        Tensor out = full(value, s);
        Tensor inner = out;
        for (int d = 0; d < s.length; d++) {
            inner = inner.slice(d, before[d], before[d] + x.shape[d]);
        }
        inner.copyFrom(x);
        return out;
    }

    private void checkIndex(String op, int a, int[] index) {
        for (int i : index) {
            if (i < 0 || i >= shape[a]) {
                throw new IndexOutOfBoundsException(op + ": index " + i + " out of range for axis " + a + " of size "
                        + shape[a] + " in shape " + Shapes.str(shape));
            }
        }
    }

    /** Rows (slices along {@code axis}) picked by {@code index}, as a new tensor; an embedding lookup on axis 0. */
    public Tensor indexSelect(int axis, int[] index) {
        int a = Shapes.axis("indexSelect", axis, shape.length, shape);
        checkIndex("indexSelect", a, index);
        return backend().indexSelect(this, a, index);
    }

    /** indexSelect on the host (the CPU backend's; indices checked). */
    static Tensor indexSelectOnHost(Tensor x, int a, int[] index) {
        int[] s = x.shape.clone();
        s[a] = index.length;
        Tensor out = zeros(s);
        for (int i = 0; i < index.length; i++) {
            out.select(a, i).copyFrom(x.select(a, index[i]));
        }
        return out;
    }

    /** A copy of this tensor where slice {@code index[i]} along {@code axis} has src's slice i added (repeats sum). */
    public Tensor indexAdd(int axis, int[] index, Tensor src) {
        int a = Shapes.axis("indexAdd", axis, shape.length, shape);
        checkIndex("indexAdd", a, index);
        int[] want = shape.clone();
        want[a] = index.length;
        if (!Arrays.equals(want, src.shape)) {
            throw new IllegalArgumentException("indexAdd: source shape " + Shapes.str(src.shape) + " should be "
                    + Shapes.str(want) + " for " + index.length + " indices into shape " + Shapes.str(shape));
        }
        return backend().indexAdd(this, a, index, src);
    }

    /** indexAdd on the host (the CPU backend's; indices and shapes checked). */
    static Tensor indexAddOnHost(Tensor x, int a, int[] index, Tensor src) {
        Tensor out = copyOnHost(x);
        for (int i = 0; i < index.length; i++) {
            out.select(a, index[i]).addInPlace(src.select(a, i));
        }
        return out;
    }

    private int[] checkGatherIndex(String op, int a, int[] index, int[] indexShape) {
        int[] is = Shapes.checkShape(op, indexShape);
        if (is.length != shape.length || Shapes.numel(is) != index.length) {
            throw new IllegalArgumentException(op + ": index shape " + Shapes.str(is) + " (" + index.length
                    + " indices) does not fit tensor shape " + Shapes.str(shape));
        }
        for (int d = 0; d < is.length; d++) {
            if (d != a && is[d] > shape[d]) {
                throw new IllegalArgumentException(op + ": index shape " + Shapes.str(is) + " exceeds tensor shape "
                        + Shapes.str(shape) + " in dimension " + d);
            }
        }
        checkIndex(op, a, index);
        return is;
    }

    /** out[i][j]... = this[..index[i][j]... at axis..], like torch.gather; index has this tensor's rank. */
    public Tensor gather(int axis, int[] index, int... indexShape) {
        int a = Shapes.axis("gather", axis, shape.length, shape);
        int[] is = checkGatherIndex("gather", a, index, indexShape);
        return backend().gather(this, a, index, is);
    }

    /** gather on the host (the CPU backend's; index and shape checked). */
    static Tensor gatherOnHost(Tensor t, int a, int[] index, int[] is) {
        Tensor out = zeros(is);
        float[] o = out.data();
        float[] x = t.data();
        int[] pos = new int[is.length];
        for (int n = 0; n < index.length; n++) {
            int p = t.offset;
            for (int d = 0; d < is.length; d++) {
                p += (d == a ? index[n] : pos[d]) * t.strides[d];
            }
            o[n] = x[p];
            increment(pos, is);
        }
        return out;
    }

    /** A copy of this tensor with src added at the positions gather would read (repeated positions sum). */
    public Tensor scatterAdd(int axis, int[] index, int[] indexShape, Tensor src) {
        int a = Shapes.axis("scatterAdd", axis, shape.length, shape);
        int[] is = checkGatherIndex("scatterAdd", a, index, indexShape);
        if (!Arrays.equals(is, src.shape)) {
            throw new IllegalArgumentException("scatterAdd: source shape " + Shapes.str(src.shape)
                    + " differs from index shape " + Shapes.str(is));
        }
        return backend().scatterAdd(this, a, index, is, src);
    }

    /** scatterAdd on the host (the CPU backend's; index and shapes checked). */
    static Tensor scatterAddOnHost(Tensor t, int a, int[] index, int[] is, Tensor src) {
        Tensor out = copyOnHost(t);
        float[] o = out.data();
        float[] s = (src.isContiguous() ? src : copyOnHost(src)).toArray();
        int[] ost = out.strides;
        int[] pos = new int[is.length];
        for (int n = 0; n < index.length; n++) {
            int p = 0;
            for (int d = 0; d < is.length; d++) {
                p += (d == a ? index[n] : pos[d]) * ost[d];
            }
            o[p] += s[n];
            increment(pos, is);
        }
        return out;
    }

    private static void increment(int[] pos, int[] shape) {
        for (int d = pos.length - 1; d >= 0; d--) {
            if (++pos[d] < shape[d]) {
                return;
            }
            pos[d] = 0;
        }
    }

    // ---------------------------------------------------------------- compute (through the backend)

    private static Backend backend() {
        return Backends.current();
    }

    /** Applies an elementwise function. */
    public Tensor map(UnaryOp op) {
        return backend().unary(op, this);
    }

    /** Combines with another tensor elementwise, broadcasting both. */
    public Tensor zip(BinaryOp op, Tensor other) {
        return backend().binary(op, this, other);
    }

    /** this + other (broadcast). */
    public Tensor add(Tensor other) {
        return zip(BinaryOp.ADD, other);
    }

    /** this + value. */
    public Tensor add(float value) {
        return zip(BinaryOp.ADD, scalar(value));
    }

    /** this - other (broadcast). */
    public Tensor sub(Tensor other) {
        return zip(BinaryOp.SUB, other);
    }

    /** this - value. */
    public Tensor sub(float value) {
        return zip(BinaryOp.SUB, scalar(value));
    }

    /** this * other (broadcast). */
    public Tensor mul(Tensor other) {
        return zip(BinaryOp.MUL, other);
    }

    /** this * value. */
    public Tensor mul(float value) {
        return zip(BinaryOp.MUL, scalar(value));
    }

    /** this / other (broadcast). */
    public Tensor div(Tensor other) {
        return zip(BinaryOp.DIV, other);
    }

    /** this / value. */
    public Tensor div(float value) {
        return zip(BinaryOp.DIV, scalar(value));
    }

    /** this ^ other (broadcast). */
    public Tensor pow(Tensor other) {
        return zip(BinaryOp.POW, other);
    }

    /** this ^ exponent. */
    public Tensor pow(float exponent) {
        return zip(BinaryOp.POW, scalar(exponent));
    }

    /** Elementwise maximum (broadcast). */
    public Tensor maximum(Tensor other) {
        return zip(BinaryOp.MAX, other);
    }

    /** Elementwise minimum (broadcast). */
    public Tensor minimum(Tensor other) {
        return zip(BinaryOp.MIN, other);
    }

    /** Values limited to [lo, hi]. */
    public Tensor clamp(float lo, float hi) {
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("clamp: lower bound " + lo + " above upper bound " + hi);
        }
        return zip(BinaryOp.MAX, scalar(lo)).zip(BinaryOp.MIN, scalar(hi));
    }

    /** 1 where this &gt; other, else 0. */
    public Tensor gt(Tensor other) {
        return zip(BinaryOp.GT, other);
    }

    /** 1 where this &gt; value, else 0. */
    public Tensor gt(float value) {
        return zip(BinaryOp.GT, scalar(value));
    }

    /** 1 where this &ge; other, else 0. */
    public Tensor ge(Tensor other) {
        return zip(BinaryOp.GE, other);
    }

    /** 1 where this &lt; other, else 0. */
    public Tensor lt(Tensor other) {
        return zip(BinaryOp.LT, other);
    }

    /** 1 where this &lt; value, else 0. */
    public Tensor lt(float value) {
        return zip(BinaryOp.LT, scalar(value));
    }

    /** 1 where this &le; other, else 0. */
    public Tensor le(Tensor other) {
        return zip(BinaryOp.LE, other);
    }

    /** 1 where this == other, else 0. */
    public Tensor eq(Tensor other) {
        return zip(BinaryOp.EQ, other);
    }

    /** 1 where this == value, else 0. */
    public Tensor eq(float value) {
        return zip(BinaryOp.EQ, scalar(value));
    }

    /** 1 where this != other, else 0. */
    public Tensor ne(Tensor other) {
        return zip(BinaryOp.NE, other);
    }

    /** -this. */
    public Tensor neg() {
        return map(UnaryOp.NEG);
    }

    /** |this|. */
    public Tensor abs() {
        return map(UnaryOp.ABS);
    }

    /** e^this. */
    public Tensor exp() {
        return map(UnaryOp.EXP);
    }

    /** Natural logarithm. */
    public Tensor log() {
        return map(UnaryOp.LOG);
    }

    /** Square root. */
    public Tensor sqrt() {
        return map(UnaryOp.SQRT);
    }

    /** 1 / sqrt(this). */
    public Tensor rsqrt() {
        return map(UnaryOp.RSQRT);
    }

    /** Hyperbolic tangent. */
    public Tensor tanh() {
        return map(UnaryOp.TANH);
    }

    /** 1 / (1 + e^-this). */
    public Tensor sigmoid() {
        return map(UnaryOp.SIGMOID);
    }

    /** this * sigmoid(this) (a.k.a. swish). */
    public Tensor silu() {
        return map(UnaryOp.SILU);
    }

    /** GELU with the exact erf form, as PyTorch's default. */
    public Tensor gelu() {
        return map(UnaryOp.GELU);
    }

    /** max(this, 0). */
    public Tensor relu() {
        return map(UnaryOp.RELU);
    }

    /** this^2. */
    public Tensor square() {
        return map(UnaryOp.SQUARE);
    }

    /** 1 / this. */
    public Tensor reciprocal() {
        return map(UnaryOp.RECIPROCAL);
    }

    /** Picks from {@code a} where {@code cond} is non-zero, else from {@code b} (all three broadcast). */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Shapes.broadcast("where", Shapes.broadcast("where", cond.shape, a.shape), b.shape);
        return backend().where(cond, a, b);
    }

    /** where on the host (the CPU backend's; shapes checked). */
    static Tensor whereOnHost(Tensor cond, Tensor a, Tensor b) {
        int[] s = Shapes.broadcast("where", Shapes.broadcast("where", cond.shape, a.shape), b.shape);
        Tensor c = cond.expand(s);
        Tensor x = a.expand(s);
        Tensor y = b.expand(s);
        Tensor out = zeros(s);
        float[] cd = c.data();
        float[] xd = x.data();
        float[] yd = y.data();
        float[] od = out.data();
        Iter.rows(s, new int[][] {c.strides, x.strides, y.strides, out.strides},
                new int[] {c.offset, x.offset, y.offset, out.offset}, (off, n, inc) -> {
                    for (int i = 0; i < n; i++) {
                        od[off[3] + i * inc[3]] = cd[off[0] + i * inc[0]] != 0 ? xd[off[1] + i * inc[1]]
                                : yd[off[2] + i * inc[2]];
                    }
                });
        return out;
    }

    /** A copy with {@code value} wherever {@code mask} (broadcast to this shape) is non-zero. */
    public Tensor maskedFill(Tensor mask, float value) {
        if (!Arrays.equals(Shapes.broadcast("maskedFill", shape, mask.shape), shape)) {
            throw new IllegalArgumentException("maskedFill: mask shape " + Shapes.str(mask.shape)
                    + " cannot be broadcast to tensor shape " + Shapes.str(shape));
        }
        return where(mask, scalar(value), this);
    }

    /** Reduces over {@code axes} (all when empty), keeping them as size 1 if {@code keepDim}. */
    public Tensor reduce(ReduceOp op, boolean keepDim, int... axes) {
        return backend().reduce(op, this, axes, keepDim);
    }

    /** Sum of all elements, as a rank-0 tensor. */
    public Tensor sum() {
        return reduce(ReduceOp.SUM, false);
    }

    /** Sum over the given axes. */
    public Tensor sum(boolean keepDim, int... axes) {
        return reduce(ReduceOp.SUM, keepDim, requireAxes("sum", axes));
    }

    /** Mean of all elements, as a rank-0 tensor. */
    public Tensor mean() {
        return reduce(ReduceOp.MEAN, false);
    }

    /** Mean over the given axes. */
    public Tensor mean(boolean keepDim, int... axes) {
        return reduce(ReduceOp.MEAN, keepDim, requireAxes("mean", axes));
    }

    /** Largest element, as a rank-0 tensor. */
    public Tensor max() {
        return reduce(ReduceOp.MAX, false);
    }

    /** Largest value over the given axes. */
    public Tensor max(boolean keepDim, int... axes) {
        return reduce(ReduceOp.MAX, keepDim, requireAxes("max", axes));
    }

    /** Smallest element, as a rank-0 tensor. */
    public Tensor min() {
        return reduce(ReduceOp.MIN, false);
    }

    /** Smallest value over the given axes. */
    public Tensor min(boolean keepDim, int... axes) {
        return reduce(ReduceOp.MIN, keepDim, requireAxes("min", axes));
    }

    private static int[] requireAxes(String op, int[] axes) {
        if (axes.length == 0) {
            throw new IllegalArgumentException(op + ": no axes given; call " + op + "() to reduce over all axes");
        }
        return axes;
    }

    /**
     * Variance over {@code axes} (all when empty) with Bessel's {@code correction} (1 = unbiased, PyTorch's
     * default; 0 = population variance).
     */
    public Tensor var(boolean keepDim, int correction, int... axes) {
        Tensor mu = mean(true, axes.length == 0 ? Shapes.axes("var", axes, shape) : axes);
        int[] ax = Shapes.axes("var", axes, shape);
        int count = 1;
        for (int a : ax) {
            count *= shape[a];
        }
        if (count - correction <= 0) {
            throw new IllegalArgumentException("var: " + count + " elements with correction " + correction
                    + " in shape " + Shapes.str(shape));
        }
        return sub(mu).square().sum(keepDim, ax).div((float) (count - correction));
    }

    /** Index of the largest value along {@code axis}, as float values (exact below 2^24); first one wins ties. */
    public Tensor argmax(int axis, boolean keepDim) {
        return argExtreme("argmax", axis, keepDim, true);
    }

    /** Index of the smallest value along {@code axis}, as float values; first one wins ties. */
    public Tensor argmin(int axis, boolean keepDim) {
        return argExtreme("argmin", axis, keepDim, false);
    }

    private Tensor argExtreme(String op, int axis, boolean keepDim, boolean max) {
        int a = Shapes.axis(op, axis, shape.length, shape);
        if (shape[a] == 0) {
            throw new IllegalArgumentException(op + ": axis " + axis + " of shape " + Shapes.str(shape) + " is empty");
        }
        Tensor moved = transpose(a, -1).contiguous();
        int cols = shape[a];
        int rows = moved.numel() / cols;
        float[] out = new float[rows];
        float[] x = moved.data();
        for (int r = 0; r < rows; r++) {
            int off = moved.offset + r * cols;
            out[r] = max ? dev.lory4j.tensor.kernels.Reduce.argmax(x, off, cols)
                    : dev.lory4j.tensor.kernels.Reduce.argmin(x, off, cols);
        }
        int[] ms = moved.shape.clone();
        ms[ms.length - 1] = 1;
        Tensor res = wrap(out, ms).transpose(a, -1).contiguous();
        return keepDim ? res : res.squeeze(a);
    }

    /** Softmax along {@code axis}. */
    public Tensor softmax(int axis) {
        return backend().softmax(this, Shapes.axis("softmax", axis, shape.length, shape), false);
    }

    /** Log-softmax along {@code axis}. */
    public Tensor logSoftmax(int axis) {
        return backend().softmax(this, Shapes.axis("logSoftmax", axis, shape.length, shape), true);
    }

    /** Causal softmax over the last axis of [..., Lq, Lk]: query i sees keys j &lt;= i + Lk - Lq; the rest become 0. */
    public Tensor causalSoftmax() {
        return backend().causalSoftmax(this);
    }

    /**
     * 1 where an element is among the k largest along {@code axis}, else 0 (ties: the smaller index wins); see
     * {@link Backend#topKMask}.
     */
    public Tensor topKMask(int axis, int k) {
        return backend().topKMask(this, Shapes.axis("topKMask", axis, shape.length, shape), k);
    }

    /** Gradient of a softmax along the last axis: scale * y * (g - sum(g * y)), with this = y = softmax(x). */
    public Tensor softmaxBackward(Tensor gradOutput, float scale) {
        return backend().softmaxBackward(this, gradOutput, scale);
    }

    /** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight (weight [last] or null). */
    public Tensor rmsNorm(Tensor weight, float eps) {
        return backend().rmsNorm(this, weight, eps);
    }

    /** LayerNorm over the last axis with biased variance; weight and bias [last] or null. */
    public Tensor layerNorm(Tensor weight, Tensor bias, float eps) {
        return backend().layerNorm(this, weight, bias, eps);
    }

    /** Matrix product with NumPy/PyTorch semantics (1-D operands, broadcast batch dims); transposed views are not copied. */
    public Tensor matmul(Tensor other) {
        return backend().matmul(this, other);
    }

    // ---------------------------------------------------------------- in place

    /** Sets every element to {@code value}. */
    public Tensor fill(float value) {
        checkWritable("fill");
        float[] d = data();
        Iter.rows(shape, new int[][] {strides}, new int[] {offset}, (off, n, inc) -> {
            if (inc[0] == 1) {
                Arrays.fill(d, off[0], off[0] + n, value);
            } else {
                for (int i = 0; i < n; i++) {
                    d[off[0] + i * inc[0]] = value;
                }
            }
        });
        return this;
    }

    /** Copies {@code src} (broadcast to this shape) into this tensor. */
    public Tensor copyFrom(Tensor src) {
        checkWritable("copyFrom");
        Tensor s = broadcastTo("copyFrom", src);
        float[] sd = s.data();
        float[] d = data();
        if (sd == d) {
            s = copyOnHost(s); // overlapping source and destination
            sd = s.data();
        }
        float[] from = sd;
        Iter.rows(shape, new int[][] {s.strides, strides}, new int[] {s.offset, offset}, (off, n, inc) -> {
            if (inc[0] == 1 && inc[1] == 1) {
                System.arraycopy(from, off[0], d, off[1], n);
            } else {
                for (int i = 0; i < n; i++) {
                    d[off[1] + i * inc[1]] = from[off[0] + i * inc[0]];
                }
            }
        });
        return this;
    }

    /** this = op(this, other) elementwise, other broadcast to this shape. */
    public Tensor zipInPlace(BinaryOp op, Tensor other) {
        checkWritable(op.opName() + "InPlace");
        Tensor o = broadcastTo(op.opName() + "InPlace", other);
        if (o.data() == data() && !(o.offset == offset && Arrays.equals(o.strides, strides))) {
            o = o.copy();
        }
        float[] od = o.data();
        float[] d = data();
        Iter.rows(shape, new int[][] {strides, o.strides}, new int[] {offset, o.offset}, (off, n, inc) -> {
            if (inc[0] == 1) {
                Elementwise.binary(op, d, off[0], 1, od, off[1], inc[1], d, off[0], n);
            } else { // the kernels write unit-stride runs only
                for (int i = 0; i < n; i++) {
                    int p = off[0] + i * inc[0];
                    d[p] = Elementwise.apply(op, d[p], od[off[1] + i * inc[1]]);
                }
            }
        });
        return this;
    }

    /** this += other (broadcast to this shape). */
    public Tensor addInPlace(Tensor other) {
        return zipInPlace(BinaryOp.ADD, other);
    }

    /** this -= other (broadcast to this shape). */
    public Tensor subInPlace(Tensor other) {
        return zipInPlace(BinaryOp.SUB, other);
    }

    /** this *= other (broadcast to this shape). */
    public Tensor mulInPlace(Tensor other) {
        return zipInPlace(BinaryOp.MUL, other);
    }

    /** this /= other (broadcast to this shape). */
    public Tensor divInPlace(Tensor other) {
        return zipInPlace(BinaryOp.DIV, other);
    }

    /** this *= value. */
    public Tensor mulInPlace(float value) {
        return zipInPlace(BinaryOp.MUL, scalar(value));
    }

    /** this += value. */
    public Tensor addInPlace(float value) {
        return zipInPlace(BinaryOp.ADD, scalar(value));
    }

    /** this += alpha * x, with x of exactly this shape (the BLAS axpy; used by optimizers). */
    public Tensor addScaledInPlace(Tensor x, float alpha) {
        checkWritable("addScaledInPlace");
        if (!Arrays.equals(x.shape, shape)) {
            throw new IllegalArgumentException("addScaledInPlace: shapes " + Shapes.str(shape) + " and "
                    + Shapes.str(x.shape) + " differ");
        }
        if (isContiguous() && x.isContiguous() && x.data() != data()) {
            Elementwise.axpy(alpha, x.data(), x.offset, data(), offset, numel());
            return this;
        }
        return addInPlace(x.mul(alpha));
    }

    /** this = op(this) elementwise. */
    public Tensor mapInPlace(UnaryOp op) {
        checkWritable(op.opName() + "InPlace");
        float[] d = data();
        Iter.rows(shape, new int[][] {strides}, new int[] {offset}, (off, n, inc) -> {
            if (inc[0] == 1) {
                Elementwise.unary(op, d, off[0], 1, d, off[0], n);
            } else { // the kernels write unit-stride runs only
                for (int i = 0; i < n; i++) {
                    int p = off[0] + i * inc[0];
                    d[p] = Elementwise.apply(op, d[p]);
                }
            }
        });
        return this;
    }

    private Tensor broadcastTo(String op, Tensor src) {
        int[] b = Shapes.broadcast(op, shape, src.shape);
        if (!Arrays.equals(b, shape)) {
            throw new IllegalArgumentException(op + ": source shape " + Shapes.str(src.shape)
                    + " cannot be broadcast to destination shape " + Shapes.str(shape));
        }
        return src.expand(shape);
    }

    private void checkWritable(String op) {
        for (int d = 0; d < shape.length; d++) {
            if (strides[d] == 0 && shape[d] > 1) {
                throw new IllegalArgumentException(op + ": tensor of shape " + Shapes.str(shape) + " with strides "
                        + Shapes.str(strides) + " is an expanded view (stride 0); writing to it is ambiguous");
            }
        }
    }

    // ---------------------------------------------------------------- comparison and printing

    /** True when both have the same shape and every pair of elements is within atol + rtol * |other|. */
    public boolean allClose(Tensor other, float rtol, float atol) {
        if (!Arrays.equals(shape, other.shape)) {
            return false;
        }
        float[] a = toArray();
        float[] b = other.toArray();
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i])) && !(a[i] == b[i])) {
                return false;
            }
        }
        return true;
    }

    /** ||this - reference|| / ||reference|| (L2 over all elements, in double); shapes must match. */
    public double relativeErrorTo(Tensor reference) {
        if (!Arrays.equals(shape, reference.shape)) {
            throw new IllegalArgumentException("relativeErrorTo: shapes " + Shapes.str(shape) + " and "
                    + Shapes.str(reference.shape) + " differ");
        }
        float[] a = toArray();
        float[] e = reference.toArray();
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - e[i];
            diff += d * d;
            norm += (double) e[i] * e[i];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }

    /** The elements as ints (row-major); each must be an integer value, else the error names the first that is not. */
    public int[] toIntArray() {
        float[] f = toArray();
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            if (f[i] != Math.rint(f[i]) || Math.abs(f[i]) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("toIntArray: element " + i + " = " + f[i] + " is not an integer");
            }
            out[i] = (int) f[i];
        }
        return out;
    }

    /** Prints like PyTorch: nested brackets (long dimensions elided), then the shape. */
    @Override
    public String toString() {
        return TensorFormat.format(this);
    }
}
