/** Reverse-mode autograd, nn layers, optimizers and checkpoints (issue #4 fills this module). */
module dev.lory4j.autograd {
    requires transitive dev.lory4j.tensor;
}
