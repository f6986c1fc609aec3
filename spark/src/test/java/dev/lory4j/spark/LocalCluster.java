package dev.lory4j.spark;

import org.apache.spark.api.java.JavaSparkContext;

/** A Spark context with two real executor processes on this machine (local-cluster mode, loopback only). */
final class LocalCluster {
    private LocalCluster() {
    }

    /** Two workers of one core and 1 GiB each (see {@link Sessions#start}). */
    static JavaSparkContext start(String name) {
        return JavaSparkContext.fromSparkContext(Sessions.start(name, null, 2, 1024).sparkContext());
    }
}
