/** The TornadoVM backend: tensor operations offloaded to an OpenCL/PTX device. */
module dev.lory4j.accel {
    requires dev.lory4j.tensor;
    requires tornado.api;
    exports dev.lory4j.accel;
    provides dev.lory4j.tensor.spi.Backend with dev.lory4j.accel.TornadoBackend;
}
