package dev.lory4j.tensor.spi;

import dev.lory4j.tensor.BinaryOp;
import dev.lory4j.tensor.ReduceOp;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.UnaryOp;

/**
 * A backend that forwards the primitive ops to another one (the optimizer's list forms keep the SPI's defaults): for
 * wrappers (logging, counting, a capture's recorder) and for tests that check a backend without kernels against the
 * CPU backend.
 */
public class DelegatingBackend implements Backend {
    private final Backend target;
    private final String name;

    /** Forwards to {@code target} under the name {@code name} (priority -1: never chosen by itself). */
    public DelegatingBackend(Backend target, String name) {
        this.target = target;
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int priority() {
        return -1;
    }

    @Override
    public Tensor copy(Tensor x) {
        return target.copy(x);
    }

    @Override
    public Tensor concat(int axis, Tensor[] parts) {
        return target.concat(axis, parts);
    }

    @Override
    public Tensor pad(Tensor x, int[] before, int[] after, float value) {
        return target.pad(x, before, after, value);
    }

    @Override
    public Tensor indexSelect(Tensor x, int axis, int[] index) {
        return target.indexSelect(x, axis, index);
    }

    @Override
    public Tensor indexAdd(Tensor x, int axis, int[] index, Tensor src) {
        return target.indexAdd(x, axis, index, src);
    }

    @Override
    public Tensor gather(Tensor x, int axis, int[] index, int[] indexShape) {
        return target.gather(x, axis, index, indexShape);
    }

    @Override
    public Tensor scatterAdd(Tensor x, int axis, int[] index, int[] indexShape, Tensor src) {
        return target.scatterAdd(x, axis, index, indexShape, src);
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        return target.where(cond, a, b);
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        return target.unary(op, x);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        return target.binary(op, a, b);
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        return target.reduce(op, x, axes, keepDim);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return target.matmul(a, b);
    }

    @Override
    public Tensor softmax(Tensor x, int axis, boolean log) {
        return target.softmax(x, axis, log);
    }

    @Override
    public Tensor topKMask(Tensor x, int axis, int k) {
        return target.topKMask(x, axis, k);
    }

    @Override
    public Tensor causalSoftmax(Tensor x) {
        return target.causalSoftmax(x);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor g, float scale) {
        return target.softmaxBackward(y, g, scale);
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        return target.rmsNorm(x, weight, eps);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        return target.layerNorm(x, weight, bias, eps);
    }
}
