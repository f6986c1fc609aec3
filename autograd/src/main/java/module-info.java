/** Reverse-mode autograd, nn layers, optimizers and checkpoints. */
module dev.lory4j.autograd {
    requires transitive dev.lory4j.tensor;
    requires com.fasterxml.jackson.core;
    exports dev.lory4j.autograd;
    exports dev.lory4j.autograd.capture;
    exports dev.lory4j.autograd.composite;
    exports dev.lory4j.autograd.nn;
    exports dev.lory4j.autograd.optim;
    exports dev.lory4j.autograd.io;
    uses dev.lory4j.autograd.composite.KernelProvider;
    uses dev.lory4j.autograd.capture.GraphCompiler;
}
