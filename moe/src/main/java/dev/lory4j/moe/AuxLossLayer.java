package dev.lory4j.moe;

import dev.lory4j.autograd.Var;

/** A layer that adds an auxiliary loss (e.g. load balancing) computed in its last forward pass. */
public interface AuxLossLayer {
    /** The auxiliary loss of the last forward pass (a scalar), or null before the first. */
    Var auxLoss();
}
