/** Lory mixture-of-experts, training, generation and routing reports. */
module dev.lory4j.moe {
    requires transitive dev.lory4j.tensor;
    requires transitive dev.lory4j.autograd;
    requires transitive dev.lory4j.data;
    requires jdk.incubator.vector;
    exports dev.lory4j.moe;
    exports dev.lory4j.moe.inspect;
    exports dev.lory4j.moe.train;
}
