package dev.lory4j.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/** A Spark context with two real executor processes on this machine (local-cluster mode, loopback only). */
final class LocalCluster {
    private LocalCluster() {
    }

    /** Two workers of one core and 1 GiB each; executors get the test class path and our JVM flags. */
    static JavaSparkContext start(String name) {
        SparkConf conf = new SparkConf().setMaster("local-cluster[2,1,1024]").setAppName(name)
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false")
                .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .set("spark.executor.extraJavaOptions", "--add-modules jdk.incubator.vector "
                        + "--enable-native-access=ALL-UNNAMED -Dlory4j.threads=1")
                .set("spark.executorEnv.JAVA_HOME", System.getProperty("java.home"))
                .set("spark.sql.shuffle.partitions", "4")
                .set("spark.default.parallelism", "4");
        return new JavaSparkContext(conf);
    }
}
