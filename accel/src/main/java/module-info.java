/** The TornadoVM backend: tensor operations offloaded to an OpenCL/PTX device, and kernels for the composite ops. */
module dev.lory4j.accel {
    requires dev.lory4j.tensor;
    requires dev.lory4j.autograd;
    requires tornado.api;
    exports dev.lory4j.accel;
    provides dev.lory4j.tensor.spi.Backend with dev.lory4j.accel.TornadoBackend;
    provides dev.lory4j.autograd.composite.KernelProvider with dev.lory4j.accel.TornadoComposites;
    provides dev.lory4j.autograd.capture.GraphCompiler with dev.lory4j.accel.TornadoGraphCompiler;
}
