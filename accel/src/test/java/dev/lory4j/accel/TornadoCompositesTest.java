package dev.lory4j.accel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.autograd.Var;
import dev.lory4j.autograd.composite.CompositeCheck;
import dev.lory4j.autograd.composite.Composites;
import dev.lory4j.autograd.composite.Kernels;
import dev.lory4j.tensor.Tensor;
import dev.lory4j.tensor.spi.Backend;
import dev.lory4j.tensor.spi.Backends;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The TornadoVM kernels of the composite ops against their reference decompositions (forward and every gradient,
 * on the same random inputs), and the composite's checks before any device work.
 */
class TornadoCompositesTest {
    private final Backend before = Backends.current();
    private final TornadoBackend tornado = new TornadoBackend(0); // offload everything it supports

    @AfterEach
    void restore() {
        Backends.use(before);
        tornado.close();
    }

    @Test
    void everyRegisteredKernelEqualsItsReference() {
        Backends.use(tornado);
        // eager execution keeps linear weights, gradients and moments on the device, the cross-entropy is every
        // backend's host kernel; everything else runs as its reference op by op (captured steps compile whole graphs
        // instead: GraphPlan)
        assertThat(Kernels.registered(tornado).keySet()).containsExactlyInAnyOrder("crossEntropy", "linear");
        assertThat(CompositeCheck.checkRegisteredKernels(1e-5, 31)).containsExactly("crossEntropy", "linear");
    }

    @Test
    void callsThatDoNotFitFailBeforeTheDeviceAndNameTheOp() {
        Backends.use(tornado);
        long copied = tornado.bytesCopied();
        Var x = Var.of(Tensor.zeros(2, 5, 6));
        Var w = Var.of(Tensor.zeros(8, 6));
        Tensor table = Tensor.zeros(5, 4);
        assertThatThrownBy(() -> Composites.SELF_ATTENTION.apply(new Composites.SelfAttention(table, table, 2), x, w, w,
                Var.of(Tensor.zeros(8, 7)), Var.of(Tensor.zeros(6, 8)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("selfAttention: x [2,5,6]");
        assertThatThrownBy(() -> Composites.MERGED_SWIGLU.apply(new Composites.Merged(false),
                Var.of(Tensor.zeros(3, 5, 7)), Var.of(Tensor.zeros(3, 4)), Var.of(Tensor.zeros(4, 11, 7)),
                Var.of(Tensor.zeros(4, 11, 7)), Var.of(Tensor.zeros(4, 11, 7)))).hasMessageContaining("mergedSwiGlu");
        assertThatThrownBy(() -> Var.of(Tensor.zeros(3, 4)).linearCrossEntropy(Var.of(Tensor.zeros(5, 4)),
                new int[] {0, 5, 1}, -100)).hasMessageContaining("linearCrossEntropy: target 5");
        assertThat(tornado.bytesCopied()).isEqualTo(copied);
    }
}
