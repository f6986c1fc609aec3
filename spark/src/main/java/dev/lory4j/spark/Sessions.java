package dev.lory4j.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** Starting Spark for lory4j's jobs: the cluster spark-submit names, or executor processes on this machine. */
public final class Sessions {
    private Sessions() {
    }

    /**
     * A session for {@code app}. Under {@code spark-submit} (spark.master set) that cluster; otherwise {@code master}
     * (null: {@code local-cluster[workers,1,memoryMb]}, i.e. a standalone master and {@code workers} worker processes
     * of one core each on this machine, loopback only). local-cluster starts executors with this JVM's class path
     * and Java, and needs SPARK_TESTING=1 and SPARK_SCALA_VERSION=2.13 in the environment (the launcher sets them).
     */
    public static SparkSession start(String app, String master, int workers, int memoryMb) {
        SparkConf conf = new SparkConf().setAppName(app);
        if (master != null) {
            conf.setMaster(master);
        } else if (!conf.contains("spark.master")) {
            conf.setMaster("local-cluster[" + workers + ",1," + memoryMb + "]");
        }
        String m = conf.get("spark.master");
        if (m.startsWith("local-cluster")) {
            if (System.getenv("SPARK_TESTING") == null || System.getenv("SPARK_SCALA_VERSION") == null) {
                throw new IllegalStateException("master " + m + " starts executor processes without a Spark "
                        + "installation only with SPARK_TESTING=1 and SPARK_SCALA_VERSION=2.13 in the environment "
                        + "(./lory4j spark sets them); or pass --master local[N] or a cluster's URL");
            }
            int cores = Runtime.getRuntime().availableProcessors();
            conf.set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                    .set("spark.executorEnv.JAVA_HOME", System.getProperty("java.home"))
                    .setIfMissing("spark.executor.extraJavaOptions", "--add-modules jdk.incubator.vector "
                            + "--enable-native-access=ALL-UNNAMED -Dlory4j.threads=" + Math.max(1, cores / workers));
        }
        if (m.startsWith("local")) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1")
                    .setIfMissing("spark.ui.enabled", "false");
        }
        // a barrier stage that asks for more tasks than the cluster has slots fails after 8 checks 5 s apart (Spark's
        // default waits 40 checks 15 s apart: 10 minutes before a user learns that --workers is too large)
        conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "5s")
                .setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "8");
        conf.setIfMissing("spark.sql.shuffle.partitions", "8").setIfMissing("spark.default.parallelism", "8");
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
