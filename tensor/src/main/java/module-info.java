/** n-d float32 tensors, Vector API kernels and the backend SPI. */
module dev.lory4j.tensor {
    requires jdk.incubator.vector;
    exports dev.lory4j.tensor;
    exports dev.lory4j.tensor.kernels;
    exports dev.lory4j.tensor.spi;
    uses dev.lory4j.tensor.spi.Backend;
}
